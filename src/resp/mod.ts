/** RESP2 and RESP3: streaming decoders, a raw reply framer and the encoder. */

export { type Argv, RequestDecoder } from "./request_decoder.ts";
export { ReplyDecoder } from "./reply_decoder.ts";
export { ReplyFramer } from "./reply_framer.ts";
export { encode, encodeCommand, encodeError, REPLY } from "./encoder.ts";
export { DEFAULT_LIMITS, ProtocolError, type RespLimits } from "./protocol_error.ts";
export * from "./value.ts";
