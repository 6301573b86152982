import { RouterExplorer } from '@nestjs/core/router/router-explorer';

type RouteHandler = (req: unknown, res: unknown, next: () => void) => Promise<void>;
type CreateCallbackProxy = (
  this: RouterExplorer,
  instance: object,
  callback: (...args: unknown[]) => unknown,
  methodName: string,
  moduleKey: string,
  requestMethod: number,
  ...rest: unknown[]
) => RouteHandler;

const proxies = new WeakMap<object, Map<string, RouteHandler>>();
let installed = false;

/**
 * Nest builds a request-scoped controller's route handler (guards, pipes, interceptors, filters, parameter
 * metadata) again on every request, even when the controller instance is durable and therefore the same for all of
 * a tenant's requests: measured by `npm run bench -- --profile`, the largest part of what durable-per-tenant DI
 * costs over singletons. This memoizes `RouterExplorer.createCallbackProxy` per controller instance, so a tenant's
 * handlers are built once per durable subtree and dropped with it (a WeakMap keyed by the instance). Per-request
 * controllers get a new instance, hence a new handler, every time, as before. Only valid while every global
 * enhancer (APP_GUARD, APP_PIPE, APP_INTERCEPTOR, APP_FILTER) is a singleton, as all of ours are: a request-scoped
 * global enhancer would be resolved once per durable subtree. This reaches into @nestjs/core internals, which is why
 * it is pinned exactly and test/durable-route-handlers.e2e-spec.ts covers it.
 */
export function memoizeDurableRouteHandlers(): void {
  if (installed) return;
  installed = true;
  const prototype = RouterExplorer.prototype as unknown as { createCallbackProxy: CreateCallbackProxy };
  const create = prototype.createCallbackProxy;
  if (typeof create !== 'function') {
    throw new Error(
      '@nestjs/core has no RouterExplorer.createCallbackProxy: revisit durable-route-handlers.ts',
    );
  }
  prototype.createCallbackProxy = function (
    instance,
    callback,
    methodName,
    moduleKey,
    requestMethod,
    ...rest
  ) {
    let byRoute = proxies.get(instance);
    if (!byRoute) {
      byRoute = new Map();
      proxies.set(instance, byRoute);
    }
    const key = `${moduleKey}:${methodName}:${requestMethod}`;
    let proxy = byRoute.get(key);
    if (!proxy) {
      proxy = create.call(this, instance, callback, methodName, moduleKey, requestMethod, ...rest);
      byRoute.set(key, proxy);
    }
    return proxy;
  };
}
