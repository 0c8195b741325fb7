import { Module } from '@nestjs/common';
import { KeysRuntime } from './keys-runtime';

/** What the inference proxy imports for API keys: {@link KeysRuntime}. */
@Module({
  providers: [KeysRuntime],
  exports: [KeysRuntime],
})
export class KeysRuntimeModule {}
