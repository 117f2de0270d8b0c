import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../lib/errors.js';
import { errorResponses, ok } from '../../lib/schemas.js';
import { assertSessionAccess } from '../../plugins/auth.js';
import { sendMedia } from './download.js';
import {
  downloadQuery,
  fileResponses,
  linkBody,
  linkParams,
  linkResult,
  mediaParams,
} from './media.schema.js';
import type { MediaService } from './media.service.js';

const tags = ['media'];
const DOWNLOAD_NOTE =
  'Streams the file from Telegram as it arrives (nothing is fetched before this request). `Range` gives ' +
  '206 with `Content-Range` (several ranges: `multipart/byteranges`, in the order asked; `bytes=-N`: the ' +
  'last N bytes), 416 RANGE_NOT_SATISFIABLE when no range fits the file. `ETag` is strong (a file never ' +
  'changes): `If-None-Match` answers 304, `If-Range` keeps a range only for the same file. HEAD answers ' +
  'the same headers without the body. 404 MEDIA_NOT_FOUND for an unknown mediaId, a message the session ' +
  'cannot see, or a session the key may not use.';

/** A session the key may not use looks like an unknown file, as API.md asks. */
function assertMediaAccess(principal: Parameters<typeof assertSessionAccess>[0], sessionId: string): void {
  try {
    assertSessionAccess(principal, sessionId);
  } catch (err) {
    if (err instanceof AppError && err.code === 'SESSION_NOT_FOUND')
      throw new AppError('MEDIA_NOT_FOUND', 'Media not found');
    throw err;
  }
}

export const mediaRoutes: FastifyPluginAsyncZod<{ media: MediaService }> = async (app, { media }) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/:mediaId',
    schema: {
      tags,
      summary: 'Download a received file (or its thumbnail)',
      description: DOWNLOAD_NOTE,
      params: mediaParams,
      querystring: downloadQuery,
      response: { ...fileResponses, ...errorResponses(404, 409, 416, 502, 503) },
    },
    handler: async (request, reply) => {
      assertMediaAccess(request.principal, request.query.sessionId);
      const source = await media.open(request.query.sessionId, request.params.mediaId, request.query.thumb);
      return sendMedia(request, reply, source, 'private, max-age=86400, immutable');
    },
  });

  app.post(
    '/:mediaId/link',
    {
      // A link gives nothing a download does not: whoever may download may make one.
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'A signed download link that works without credentials',
        description:
          'For clients that cannot send a key (an `<img>` tag): the URL downloads the file (or the thumbnail ' +
          'named) with GET or HEAD, Range included, until `expiresAt`. It is signed (HMAC-SHA256 with a key ' +
          'derived from JWT_SECRET); a changed or expired link answers 401. The link is a bearer credential ' +
          'for this one file: share it as such.',
        params: mediaParams,
        body: linkBody,
        response: { 200: ok(linkResult), ...errorResponses(404, 409, 502, 503) },
      },
    },
    async (request) => {
      const { sessionId, thumb, expiresIn } = request.body;
      assertMediaAccess(request.principal, sessionId);
      const link = await media.link(sessionId, request.params.mediaId, thumb, expiresIn);
      const url = `${request.protocol}://${request.host}${link.path}`;
      return { success: true as const, data: { url, expiresAt: link.expiresAt } };
    },
  );
};

/**
 * Downloads through signed links: public (the link is the credential), so outside /api/v1 and
 * its authentication, at the root where the link's URL points.
 */
export const mediaLinkRoutes: FastifyPluginAsyncZod<{ media: MediaService }> = async (app, { media }) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/media/links/:token',
    schema: {
      tags,
      summary: 'Download through a signed link (no credentials)',
      description: `The URL of POST /media/{mediaId}/link. ${DOWNLOAD_NOTE}`,
      security: [],
      params: linkParams,
      response: { ...fileResponses, ...errorResponses(404, 409, 416, 502, 503) },
    },
    handler: async (request, reply) => {
      const claims = media.verifyLink(request.params.token);
      const source = await media.open(claims.sessionId, claims.mediaId, claims.thumb);
      const left = Math.max(0, claims.expiresAt - Math.floor(Date.now() / 1000));
      return sendMedia(request, reply, source, `private, max-age=${left}`);
    },
  });
};
