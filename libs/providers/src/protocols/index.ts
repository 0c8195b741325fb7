export { ChatChunk, ChatProtocol, ChatToProtocol, namedEvent, ViaChatAdapter } from './chat-stream';
export { ChatToMessages, chatToMessage, MESSAGES_OVER_CHAT, messagesToChat } from './messages';
export { ChatToResponses, chatToResponse, RESPONSES_OVER_CHAT, responsesToChat } from './responses';
