import { request as httpRequest } from 'node:http';
import { billingKeys, decodeUsageEvent } from '@app/billing';
import Redis from 'ioredis';
import { toFile } from 'openai';
import { Client } from 'pg';
import { fromUnits } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_AUDIO_BYTES_PER_SECOND, FAKE_SPEECH_CHUNKS, FAKE_TRANSCRIPT, FakeUpstream, fakeSpeechChunk, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';
import { scaled } from '../support/timing';

/**
 * Audio (issue 24): POST /v1/audio/transcriptions (multipart, limited at the edge), billed per
 * second of audio (the upstream's verbose_json `duration`, rounded up to a whole second), and
 * POST /v1/audio/speech (JSON in, the upstream's audio bytes streamed back), billed per million
 * input characters. Each holds its estimate before the upstream is called and settles exactly.
 */
const UPLOAD_LIMIT = 256 * 1024;
/** Per second of audio. */
const TRANSCRIPTION_PRICE = { inputPerMillion: '0', outputPerMillion: '0', perRequest: '0.0001', unit: 'second' };
/** Per million input characters. */
const SPEECH_PRICE = { inputPerMillion: '15', outputPerMillion: '0', unit: 'character' };

describe('audio transcriptions and speech (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let openai: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let client: GatewayClient;
  const models = { whisper: uniqueSlug('m-whisper'), tts: uniqueSlug('m-tts') };

  const balance = async () => (await world.balance(shop, 'alice'))!;
  /**
   * The usage record of the request that carried `x-request-id: rid`, once metered (the worker
   * drains the usage stream, so its events are read from PostgreSQL, where they are the record).
   */
  const record = async (rid: string) => {
    const query = () =>
      system.query(
        `SELECT status, unit, quantity::int, input_tokens::int, output_tokens::int, retail_charge::text FROM usage_records WHERE tenant_id = $1 AND http_request_id = $2`,
        [shop.id, rid],
      );
    await eventually(async () => (await query()).rowCount === 1, `usage record ${rid}`);
    return (await query()).rows[0];
  };
  const rid = () => uniqueSlug('audio-req');
  const withId = (id: string) => ({ headers: { 'x-request-id': id } });
  const audio = (bytes: number) => Buffer.alloc(bytes, 7);

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    openai = await startFakeOpenAI();
    const overrides = { REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', INFERENCE_AUDIO_UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT) };
    [api, worker] = await Promise.all([startTestApi(overrides), startTestWorker(overrides)]);
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    await world.price(world.platform, models.whisper, TRANSCRIPTION_PRICE as never);
    await world.price(world.platform, models.tts, SPEECH_PRICE as never);
    await world.channel(fakeChannel(openai.url, models.whisper, { retryBudget: 0, costs: [] }));
    await world.channel(fakeChannel(openai.url, models.tts, { retryBudget: 0, costs: [] }));
    await world.credit(shop, 'alice', '10');
    key = await world.key(shop, 'alice');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
    client = gatewayClient(api.baseUrl, shop.domain, key, { maxRetries: 0 });
  });

  afterAll(async () => {
    await client?.close();
    await api?.close();
    await worker?.close();
    await openai?.close();
    redis?.disconnect();
    await system?.end();
  });

  describe('transcriptions', () => {
    it('are answered through the openai SDK and billed per second of audio: 12,345 bytes the fake counts as 12.345 s cost 13 seconds', async () => {
      const before = await balance();
      const upload = audio(12_345);
      const id = rid();
      const result = await client.client.audio.transcriptions.create(
        { model: models.whisper, file: await toFile(upload, 'note.mp3', { type: 'audio/mpeg' }), response_format: 'verbose_json', language: 'en', timestamp_granularities: ['segment'] },
        withId(id),
      );
      expect(result.text).toBe(FAKE_TRANSCRIPT.join(' '));
      expect(result.duration).toBeCloseTo(12.345);
      // The upstream got the file as uploaded, its own model name, and always verbose_json.
      const sent = openai.requests.at(-1)!;
      expect(sent.path).toBe('/v1/audio/transcriptions');
      expect(sent.body).toMatchObject({ model: 'fake-model', response_format: 'verbose_json', language: 'en', 'timestamp_granularities[]': 'segment', file: { name: 'note.mp3', type: 'audio/mpeg', size: 12_345 } });
      expect(Buffer.compare(sent.body.file.bytes, upload)).toBe(0);

      // 13 x 0.0001 = 0.0013: 1,300,000 nano-units, off the balance and on the usage record with its unit.
      expect(before - (await balance())).toBe(1_300_000n);
      expect(await record(id)).toEqual({ status: 'ok', unit: 'second', quantity: 13, input_tokens: 0, output_tokens: 0, retail_charge: fromUnits(1_300_000n) });
    });

    it('answer in the format asked for (json by default, text, srt), each billed the same seconds', async () => {
      const before = await balance();
      const file = async () => toFile(audio(2_000), 'a.wav', { type: 'audio/wav' });
      const ids = [rid(), rid(), rid()];
      const json = await client.client.audio.transcriptions.create({ model: models.whisper, file: await file() }, withId(ids[0]));
      expect(json).toMatchObject({ text: FAKE_TRANSCRIPT.join(' '), usage: { type: 'duration', seconds: 2 } });
      const text = await client.client.audio.transcriptions.create({ model: models.whisper, file: await file(), response_format: 'text' }, withId(ids[1]));
      expect(text).toBe(`${FAKE_TRANSCRIPT.join(' ')}\n`);
      const srt = await client.client.audio.transcriptions.create({ model: models.whisper, file: await file(), response_format: 'srt' }, withId(ids[2]));
      expect(srt).toBe(`1\n00:00:00,000 --> 00:00:01,000\n${FAKE_TRANSCRIPT[0]}\n\n2\n00:00:01,000 --> 00:00:02,000\n${FAKE_TRANSCRIPT[1]}\n`);
      for (const id of ids) expect(await record(id)).toMatchObject({ unit: 'second', quantity: 2, retail_charge: fromUnits(200_000n) });
      expect(before - (await balance())).toBe(600_000n);
    });

    it('refuses a body whose Content-Length is over the limit with 413 before reading it (the upstream never called, nothing charged)', async () => {
      const calls = openai.requests.length;
      const before = await balance();
      const declared = UPLOAD_LIMIT * 8;
      // Only the first 64 KiB of the announced body is ever sent: an answer proves it was not awaited.
      const res = await upload({ 'content-length': String(declared) }, 64 * 1024);
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'payload_too_large' });
      expect(res.headers.connection).toBe('close');
      expect(res.written).toBeLessThan(declared);
      expect(openai.requests.length).toBe(calls);
      expect(await balance()).toBe(before);
    });

    it('refuses a chunked body that grows over the limit with 413 as soon as it does, without reading the rest', async () => {
      const calls = openai.requests.length;
      const before = await balance();
      // The body goes a little over the limit, then stalls without ever ending: only a gateway
      // that refuses it once it is over the limit (not at its end) answers at all.
      const res = await upload({ 'transfer-encoding': 'chunked' }, UPLOAD_LIMIT + 64 * 1024);
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ code: 'payload_too_large' });
      expect(res.headers.connection).toBe('close');
      expect(openai.requests.length).toBe(calls);
      expect(await balance()).toBe(before);
    });

    it('an upload without a valid key is refused (401) before the upload is read', async () => {
      // A body that never ends: the answer cannot have waited for it.
      const res = await upload({ 'transfer-encoding': 'chunked' }, 64 * 1024, 'sk-nobody');
      expect(res.status).toBe(401);
    });

    it('an upstream 5xx charges nothing and releases the hold', async () => {
      const before = await balance();
      const id = rid();
      openai.next({ kind: 'status', status: 500 });
      await expect(client.client.audio.transcriptions.create({ model: models.whisper, file: await toFile(audio(5_000), 'a.mp3') }, withId(id))).rejects.toMatchObject({ status: 502 });
      expect(await record(id)).toMatchObject({ status: 'upstream_error', unit: 'second', quantity: 0, retail_charge: fromUnits(0n) });
      expect(await balance()).toBe(before);
      expect(await world.openHolds(shop)).toBe(0);
    });

    it('refuses a form without a file or with an unknown response_format (400), and JSON (415), charging nothing', async () => {
      const before = await balance();
      const noFile = await rawMultipart([['model', models.whisper]]);
      expect(noFile.status).toBe(400);
      expect(noFile.body.error.param).toBe('file');
      const badFormat = await rawMultipart([['model', models.whisper], ['response_format', 'mp3']], Buffer.alloc(100));
      expect(badFormat.status).toBe(400);
      expect(badFormat.body.error.param).toBe('response_format');
      const json = await call(api.baseUrl, 'POST', '/v1/audio/transcriptions', { host: shop.domain, token: key, json: { model: models.whisper } });
      expect(json.status).toBe(415);
      expect(json.body.error.type).toBe('invalid_request_error');
      expect(await balance()).toBe(before);
    });
  });

  describe('speech', () => {
    const input = 'Grüße aus dem Gateway 👋'; // 23 characters (code points), 24 UTF-16 units, 28 bytes
    const characters = [...input].length;
    const cost = BigInt(characters) * 15_000n; // 15 per million characters = 15,000 nano-units each

    it('streams the upstream audio through the openai SDK and bills the input characters at the per-million price', async () => {
      expect(characters).toBe(23);
      const before = await balance();
      const id = rid();
      const response = await client.client.audio.speech.create({ model: models.tts, voice: 'alloy', input, response_format: 'mp3' }, withId(id));
      expect(response.headers.get('content-type')).toBe('audio/mpeg');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(Buffer.compare(bytes, Buffer.concat(Array.from({ length: FAKE_SPEECH_CHUNKS }, (_, i) => fakeSpeechChunk(i))))).toBe(0);
      expect(openai.requests.at(-1)).toMatchObject({ path: '/v1/audio/speech', body: { model: 'fake-model', voice: 'alloy', input, response_format: 'mp3' } });
      expect(before - (await balance())).toBe(cost);
      expect(await record(id)).toEqual({ status: 'ok', unit: 'character', quantity: characters, input_tokens: 0, output_tokens: 0, retail_charge: fromUnits(cost) });
    });

    it('sends the first audio bytes while the upstream is still producing; a client that leaves mid-way pays the whole input and the upstream request is closed', async () => {
      const before = await balance();
      const id = rid();
      // The upstream pauses after its first chunk for longer than this test waits.
      openai.next({ kind: 'stall-after', ms: scaled(120_000) });
      const first = await new Promise<Buffer>((resolve, reject) => {
        const req = httpRequest(new URL('/v1/audio/speech', api.baseUrl), { method: 'POST', headers: { host: shop.domain, authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': id } }, (res) => {
          res.once('data', (chunk: Buffer) => {
            resolve(chunk);
            req.destroy(); // the client goes away mid-stream
          });
        });
        req.on('error', () => undefined);
        req.end(JSON.stringify({ model: models.tts, voice: 'alloy', input }));
        setTimeout(() => reject(new Error('no audio arrived')), scaled(30_000)).unref();
      });
      // At most the first chunk: the upstream sends nothing more until long after this.
      expect(first.length).toBeLessThanOrEqual(1000);
      expect(first.equals(fakeSpeechChunk(0).subarray(0, first.length))).toBe(true);
      expect(await record(id)).toMatchObject({ status: 'client_cancelled', unit: 'character', quantity: characters, retail_charge: fromUnits(cost) });
      expect(before - (await balance())).toBe(cost);
      await eventually(async () => openai.requests.at(-1)?.aborted === true, 'upstream request closed');
    });

    it('an api that dies mid-audio has left the whole input owed on its hold: the expired-holds sweep charges it once, a late settlement nothing more', async () => {
      const before = await balance();
      const id = rid();
      openai.next({ kind: 'stall-after', ms: scaled(120_000) });
      let req: ReturnType<typeof httpRequest> | null = null;
      await new Promise<void>((resolve, reject) => {
        req = httpRequest(new URL('/v1/audio/speech', api.baseUrl), { method: 'POST', headers: { host: shop.domain, authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': id } }, (res) => {
          res.once('data', () => resolve());
        });
        req.on('error', () => undefined);
        req.end(JSON.stringify({ model: models.tts, voice: 'alloy', input }));
        setTimeout(() => reject(new Error('no audio arrived')), scaled(30_000)).unref();
      });
      try {
        // The first audio bytes are out and the upstream is stalled: the charge owed is on the hold.
        const owed = async () => {
          const ids = await redis.zrange(billingKeys.holds(shop.id), 0, -1);
          const holds = await Promise.all(ids.map((hold) => redis.hgetall(billingKeys.hold(shop.id, hold))));
          return holds.filter((h) => h.ev && decodeUsageEvent(h.ev).httpRequestId === id).map((h) => decodeUsageEvent(h.ev));
        };
        await eventually(async () => (await owed()).length === 1, 'the owed charge kept on the hold');
        expect((await owed())[0]).toMatchObject({ status: 'error', errorCode: 'gateway_interrupted', retailUnits: cost.toString() });
        // As after the api's death: the worker's sweep of expired holds charges what the hold carries.
        const sweep = await api.app.get(BalanceService).releaseExpiredHolds(shop.id, Date.now() + 24 * 3600_000);
        expect(sweep.chargedUnits).toBe(cost);
      } finally {
        req!.destroy(); // the client leaves: the (still living) api settles late, and is refused a second charge
      }
      expect(await record(id)).toMatchObject({ status: 'error', unit: 'character', quantity: characters, retail_charge: fromUnits(cost) });
      await eventually(async () => openai.requests.at(-1)?.aborted === true, 'upstream request closed');
      expect(before - (await balance())).toBe(cost);
    });

    it('an upstream 5xx before any audio charges nothing', async () => {
      const before = await balance();
      const id = rid();
      openai.next({ kind: 'status', status: 503 });
      await expect(client.client.audio.speech.create({ model: models.tts, voice: 'alloy', input }, withId(id))).rejects.toMatchObject({ status: 502 });
      expect(await record(id)).toMatchObject({ status: 'upstream_error', quantity: 0, retail_charge: fromUnits(0n) });
      expect(await balance()).toBe(before);
    });

    it('an upstream cut after the first audio cuts the client connection and charges the whole input, as a cut chat stream its prompt', async () => {
      const before = await balance();
      const id = rid();
      openai.next({ kind: 'truncated' });
      const response = await client.client.audio.speech.create({ model: models.tts, voice: 'alloy', input }, withId(id));
      await expect(response.arrayBuffer()).rejects.toThrow();
      expect(await record(id)).toMatchObject({ status: 'upstream_error', quantity: characters, retail_charge: fromUnits(cost) });
      expect(before - (await balance())).toBe(cost);
    });

    it('refuses a request without input or voice (400), charging nothing', async () => {
      const before = await balance();
      const noVoice = await call(api.baseUrl, 'POST', '/v1/audio/speech', { host: shop.domain, token: key, json: { model: models.tts, input: 'hi' } });
      expect(noVoice.status).toBe(400);
      expect(noVoice.body.error.param).toBe('voice');
      const tooLong = await call(api.baseUrl, 'POST', '/v1/audio/speech', { host: shop.domain, token: key, json: { model: models.tts, voice: 'alloy', input: 'x'.repeat(4097) } });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.error.param).toBe('input');
      expect(await balance()).toBe(before);
    });
  });

  /**
   * Streams the start of a multipart upload (a form whose file never ends), `total` bytes in
   * 16 KiB writes, then stalls without ending the request: the gateway's answer cannot have
   * waited for the whole body. Resolves with the answer and how many bytes were written by then.
   */
  function upload(headers: Record<string, string>, total: number, secret = key): Promise<{ status: number; headers: Record<string, unknown>; body: any; written: number }> {
    const boundary = 'audio-boundary-1234';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${models.whisper}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n`);
    return new Promise((resolve, reject) => {
      let written = 0;
      let answered = false;
      const req = httpRequest(
        new URL('/v1/audio/transcriptions', api.baseUrl),
        { method: 'POST', headers: { host: shop.domain, authorization: `Bearer ${secret}`, 'content-type': `multipart/form-data; boundary=${boundary}`, ...headers } },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined, written });
            req.destroy();
          });
        },
      );
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = () => {
        while (!answered && !req.destroyed) {
          if (written === 0) {
            written += head.length;
            if (!req.write(head)) return void req.once('drain', pump);
            continue;
          }
          if (written >= total) return; // all sent: never ended, so only the gateway's answer finishes this
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      pump();
      setTimeout(() => reject(new Error(`no answer after ${written} bytes`)), scaled(60_000)).unref();
    });
  }

  /** A small multipart form, built by undici's FormData through fetch's Request. */
  async function rawMultipart(fields: Array<[string, string]>, file?: Buffer): Promise<{ status: number; body: any }> {
    const form = new FormData();
    for (const [name, value] of fields) form.append(name, value);
    if (file) form.append('file', new Blob([file], { type: 'audio/mpeg' }), 'a.mp3');
    const request = new Request('http://localhost/', { method: 'POST', body: form });
    const body = Buffer.from(await request.arrayBuffer());
    return call(api.baseUrl, 'POST', '/v1/audio/transcriptions', {
      host: shop.domain,
      token: key,
      headers: { 'content-type': request.headers.get('content-type')! },
      body: body.toString('latin1'),
    });
  }
});
