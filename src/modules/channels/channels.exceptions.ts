import { errorFactory } from '@app/errors';

export enum ChannelErrorCode {
  NameTaken = 'channel_name_taken',
  UnknownKey = 'channel_key_unknown',
  LastKey = 'channel_last_key',
  NoProbeModel = 'channel_no_probe_model',
  NoUsableKey = 'channel_no_usable_key',
  KeyUnreadable = 'channel_key_unreadable',
  InvalidSettings = 'channel_settings_invalid',
  InvalidKey = 'channel_key_invalid',
  NoModelList = 'channel_no_model_list',
  ModelListFailed = 'channel_model_list_failed',
  NoBalance = 'channel_no_balance',
}

const MESSAGES: Record<ChannelErrorCode, { status: number; title: string }> = {
  [ChannelErrorCode.NameTaken]: { status: 409, title: 'Another channel has this name' },
  [ChannelErrorCode.UnknownKey]: { status: 400, title: 'No such key on this channel' },
  [ChannelErrorCode.LastKey]: { status: 400, title: 'A channel keeps at least one key' },
  [ChannelErrorCode.NoProbeModel]: { status: 400, title: 'The channel lists no concrete model to test with' },
  [ChannelErrorCode.NoUsableKey]: { status: 400, title: 'Every key of this channel is disabled' },
  [ChannelErrorCode.KeyUnreadable]: { status: 500, title: 'A stored key cannot be decrypted with the configured CHANNEL_ENCRYPTION_KEYS' },
  [ChannelErrorCode.InvalidSettings]: { status: 400, title: "The channel's settings do not fit its provider" },
  [ChannelErrorCode.InvalidKey]: { status: 400, title: "A key is not in the form the channel's provider needs" },
  [ChannelErrorCode.NoModelList]: { status: 400, title: 'This upstream has no model list the gateway can read' },
  [ChannelErrorCode.ModelListFailed]: { status: 502, title: 'The upstream did not list its models' },
  [ChannelErrorCode.NoBalance]: { status: 400, title: "This channel's service reports no balance (only the DeepSeek, Kimi and OpenRouter presets do)" },
};

export const channelError = errorFactory<ChannelErrorCode>(MESSAGES);
