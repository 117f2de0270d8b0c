import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import fp from 'fastify-plugin';

const BLANK = /^\s*$/;

/** A body that was not sent is validated as `{}`: all-optional bodies pass, required fields are named. */
const emptyBodyAsObject: preValidationHookHandler = (request: FastifyRequest, _reply, done) => {
  if (request.body === undefined) request.body = {};
  done();
};

/**
 * JSON bodies with one difference from Fastify's parser: an empty body under
 * `Content-Type: application/json` (what many HTTP clients send with a bodiless POST) is no body,
 * not a 400 "Body is not valid JSON". Prototype poisoning is still refused by Fastify's parser.
 */
export const jsonBodyPlugin = fp(
  async (app: FastifyInstance) => {
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      // A test, not trim(): no copy of a large body on every request.
      if (BLANK.test(body as string)) {
        done(null, undefined);
        return;
      }
      parseJson(request, body as string, done);
    });
    // Only routes that declare a body get the hook: the others never look at it.
    app.addHook('onRoute', (route) => {
      if (!route.schema?.body) return;
      const own = route.preValidation === undefined ? [] : [route.preValidation].flat();
      route.preValidation = [emptyBodyAsObject, ...own];
    });
  },
  { name: 'json-body' },
);
