export * from './app-exception';
export * from './error-codes';
export * from './problem.filter';
export * from './validation';
export * from './input-guards';
export * from './openai-error';
