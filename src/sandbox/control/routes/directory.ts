/** Control routes that list the world for people looking around it (the dashboard's Sandbox page). */
import type { World } from '../../world/world.js';
import type { Route } from './route.js';
import { userSummary } from './users.js';

export function directoryRoutes(world: World): Route[] {
  return [
    {
      method: 'GET',
      path: '/users',
      description:
        'Every user, oldest first, with the last login code sent to their phone (null: none; GET /codes?phone= also reads codes of phones that are no user yet).',
      handler: () => ({
        body: Object.values(world.state.users)
          .sort((a, b) => a.id - b.id)
          .map((user) => ({ ...userSummary(world, user.id), lastCode: world.lastCode(user.phone) ?? null })),
      }),
    },
  ];
}
