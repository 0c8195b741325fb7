/** The OpenAI-compatible fake (shared with `npm run dev` and the benchmark). */
export { startFakeOpenAI, FAKE_AUDIO_BYTES_PER_SECOND, FAKE_SPEECH_CHUNKS, FAKE_TRANSCRIPT, fakeSpeechChunk, FAKE_RERANK_TOKENS_PER_DOCUMENT, FAKE_TEXT, FAKE_USAGE, FAKE_RESPONSES_USAGE, startFakeServer, streamEvents } from '../../../scripts/fake-upstream';
export type { FakeBehaviour, FakeUpstream, RecordedRequest, FakeContext } from '../../../scripts/fake-upstream';
