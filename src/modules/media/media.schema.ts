import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';
import { sessionIdSchema } from '../sessions/sessions.schema.js';
import { LINK_TTL_DEFAULT, LINK_TTL_MAX } from './media.service.js';

export { mediaObject, type MediaView } from '../../lib/telegram-views.js';

const mediaId = z
  .string()
  .min(1)
  .max(120)
  .meta({ description: "The `mediaId` of a message's `media` object" });

/** A thumbnail's size type letter (https://core.telegram.org/api/files#image-thumbnail-types). */
const thumb = z
  .string()
  .regex(/^[a-zA-Z]$/, "one size type letter from the media object's thumbnails")
  .optional()
  .meta({ description: "A thumbnail's size letter (media.thumbnails[].size) instead of the file" });

export const mediaParams = z.object({ mediaId });

export const downloadQuery = z.object({
  sessionId: sessionIdSchema.meta({ description: 'The session that received the message' }),
  thumb,
});

export const linkBody = z.object({
  sessionId: sessionIdSchema,
  expiresIn: z
    .number()
    .int()
    .min(1)
    .max(LINK_TTL_MAX)
    .default(LINK_TTL_DEFAULT)
    .meta({ description: `Seconds the link works (default ${LINK_TTL_DEFAULT}, at most ${LINK_TTL_MAX})` }),
  thumb,
});

export const linkResult = z
  .object({
    url: z.string().meta({ description: 'Downloads the file with GET or HEAD, without credentials' }),
    expiresAt: isoDate,
  })
  .meta({ id: 'MediaLink' });

export const linkParams = z.object({
  token: z.string().min(1).max(2000).meta({ description: 'The signed token of POST /media/{mediaId}/link' }),
});

/** The file's bytes, for the OpenAPI document (Swagger UI offers them as a download). */
const binary = z.string().meta({ format: 'binary' });
export const fileResponses = {
  200: {
    description: "The whole file (`Content-Type` is the file's own)",
    content: { 'application/octet-stream': { schema: binary } },
  },
  206: {
    description: 'The range asked (`Content-Range`), or several as `multipart/byteranges` in the order asked',
    content: { 'application/octet-stream': { schema: binary }, 'multipart/byteranges': { schema: binary } },
  },
  304: {
    description: 'If-None-Match matched the ETag',
    content: { 'application/octet-stream': { schema: binary } },
  },
};
