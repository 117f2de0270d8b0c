/**
 * The control API's route table: method, path, body schema, description and handler, one file
 * per resource. `GET /` lists every route with its body, in this order.
 */
import type { World } from '../../world/world.js';
import type { FaultInjector } from '../../world/faults.js';
import { chatRoutes } from './chats.js';
import { directoryRoutes } from './directory.js';
import { faultAndConnectionRoutes } from './faults-and-connections.js';
import { loginRoutes } from './login.js';
import { messageRoutes } from './messages.js';
import { mediaRoutes } from './media.js';
import type { Route } from './route.js';
import { userRoutes } from './users.js';

export { ControlError, toBotApiId } from './route.js';
export type { Route, RouteInput } from './route.js';

export function buildRoutes({
  world,
  faults,
  methods,
}: {
  world: World;
  faults: FaultInjector;
  methods: string[];
}): Route[] {
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/',
      description: 'This list of routes.',
      handler: () => ({
        body: {
          name: 'TeleFlow sandbox control API',
          notes: [
            'JSON in and out; users are named by phone; chats by Bot-API-style id (-<id> group, -100<id> supergroup/channel).',
            'Message ids are those of the acting user ("by"/"from"): each account numbers its own copies in private chats and groups; channels share one numbering.',
            'Errors: {"error": {"code", "message"}} with a 4xx status.',
            'Phones 99966XYYYY receive the login code XXXXX; every code is readable at GET /codes?phone=.',
          ],
          routes: routes.map((r) => ({
            method: r.method,
            path: r.path,
            description: r.description,
            ...(r.bodyDoc ? { body: r.bodyDoc } : {}),
          })),
          rpcMethods: methods,
        },
      }),
    },
    ...directoryRoutes(world),
    ...userRoutes(world),
    ...loginRoutes(world),
    ...chatRoutes(world),
    ...messageRoutes(world),
    ...mediaRoutes(world),
    ...faultAndConnectionRoutes(world, faults),
  ];
  return routes;
}
