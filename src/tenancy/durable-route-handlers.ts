import type { ContextId } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import type { Module } from '@nestjs/core/injector/module';
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
type CreateRequestScopedHandler = (
  this: RouterExplorer,
  instanceWrapper: InstanceWrapper,
  requestMethod: number,
  moduleRef: Module,
  moduleKey: string,
  methodName: string,
) => RouteHandler;
/** The ContextId a request's durable subtree is keyed by, or undefined when it has none. */
export type DurableContextOf = (req: unknown) => ContextId | undefined;

const proxies = new WeakMap<object, Map<string, RouteHandler>>();
let installed = false;

const routeKey = (moduleKey: string, methodName: string, requestMethod: number) =>
  `${moduleKey}:${methodName}:${requestMethod}`;

/**
 * Nest runs a request-scoped controller's route through `RouterExplorer.createRequestScopedHandler` on every
 * request: a new ContextId (our strategy's `attach`), the REQUEST provider registered for it, the controller
 * resolved again by `Injector.loadPerContext` (a chain of awaits), then its route handler (guards, pipes,
 * interceptors, filters, parameter metadata) built again by `createCallbackProxy` — even when the controller is
 * durable and therefore the same instance for all of a tenant's requests. Measured by `npm run bench -- --profile`,
 * that is what durable-per-tenant DI costs over singletons. This patch:
 * - memoizes `createCallbackProxy` per controller instance, so a tenant's handlers are built once per durable
 *   subtree and dropped with it (a WeakMap keyed by the instance); per-request controllers get a new instance,
 *   hence a new handler, every time, as before;
 * - once Nest has resolved a durable controller for a request's durable ContextId (`durableContextOf`), sends that
 *   context's later requests of the route straight to the memoized handler (a WeakMap keyed by the ContextId,
 *   dropped with it). The first request of each subtree, and every request of a non-durable tree, goes through
 *   Nest's own path, which builds the subtree.
 * Only valid while every global enhancer (APP_GUARD, APP_PIPE, APP_INTERCEPTOR, APP_FILTER) is a singleton and no
 * code looks up a request's ContextId (`ContextIdFactory.getByRequest`, `ModuleRef.resolve`) on a durable route, as
 * holds for ours. This reaches into @nestjs/core internals, which is why it is pinned exactly and
 * test/durable-route-handlers.e2e-spec.ts covers it.
 */
export function memoizeDurableRouteHandlers(durableContextOf: DurableContextOf): void {
  if (installed) return;
  installed = true;
  const prototype = RouterExplorer.prototype as unknown as {
    createCallbackProxy: CreateCallbackProxy;
    createRequestScopedHandler: CreateRequestScopedHandler;
  };
  const createProxy = prototype.createCallbackProxy;
  const createScoped = prototype.createRequestScopedHandler;
  if (typeof createProxy !== 'function' || typeof createScoped !== 'function') {
    throw new Error('@nestjs/core has changed its RouterExplorer: revisit durable-route-handlers.ts');
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
    const key = routeKey(moduleKey, methodName, requestMethod);
    let proxy = byRoute.get(key);
    if (!proxy) {
      proxy = createProxy.call(this, instance, callback, methodName, moduleKey, requestMethod, ...rest);
      byRoute.set(key, proxy);
    }
    return proxy;
  };
  prototype.createRequestScopedHandler = function (
    instanceWrapper,
    requestMethod,
    moduleRef,
    moduleKey,
    methodName,
  ) {
    const throughNest = createScoped.call(
      this,
      instanceWrapper,
      requestMethod,
      moduleRef,
      moduleKey,
      methodName,
    );
    if (!instanceWrapper.isDependencyTreeDurable()) return throughNest;
    const key = routeKey(moduleKey, methodName, requestMethod);
    const byContext = new WeakMap<ContextId, RouteHandler>();
    const remember = (context: ContextId) => {
      const host = instanceWrapper.getInstanceByContextId(context, instanceWrapper.id);
      const proxy = host.isResolved ? proxies.get(host.instance as object)?.get(key) : undefined;
      if (proxy) byContext.set(context, proxy);
    };
    return (req, res, next) => {
      const context = durableContextOf(req);
      if (!context) return throughNest(req, res, next);
      const known = byContext.get(context);
      if (known) return known(req, res, next);
      return throughNest(req, res, next).then(() => remember(context));
    };
  };
}
