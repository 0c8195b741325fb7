import { errorFactory } from '@app/errors';

export enum ChannelErrorCode {
  NameTaken = 'channel_name_taken',
  UnknownKey = 'channel_key_unknown',
  LastKey = 'channel_last_key',
  NoProbeModel = 'channel_no_probe_model',
  NoUsableKey = 'channel_no_usable_key',
  KeyUnreadable = 'channel_key_unreadable',
}

const MESSAGES: Record<ChannelErrorCode, { status: number; title: string }> = {
  [ChannelErrorCode.NameTaken]: { status: 409, title: 'Another channel has this name' },
  [ChannelErrorCode.UnknownKey]: { status: 400, title: 'No such key on this channel' },
  [ChannelErrorCode.LastKey]: { status: 400, title: 'A channel keeps at least one key' },
  [ChannelErrorCode.NoProbeModel]: { status: 400, title: 'The channel lists no concrete model to test with' },
  [ChannelErrorCode.NoUsableKey]: { status: 400, title: 'Every key of this channel is disabled' },
  [ChannelErrorCode.KeyUnreadable]: { status: 500, title: 'A stored key cannot be decrypted with the configured CHANNEL_ENCRYPTION_KEYS' },
};

export const channelError = errorFactory<ChannelErrorCode>(MESSAGES);
