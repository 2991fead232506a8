/**
 * Node 20's `AsyncResource.prototype.bind` gives each bound function a deprecated `asyncResource` accessor
 * (DEP0172): two `deprecate()` wrappers and an `Object.defineProperties` on every call. node:http2's
 * client `request()` binds once per stream, so in the load generator that is ~12 % of its JavaScript CPU
 * (a 10,000-school profile against the stand-in collector). `cheapAsyncBind()` replaces it, in the
 * generator's own process only, by the same binding without the deprecated accessor: the callback still
 * runs in the resource's async scope with the same `this` and arguments. Node 22 dropped the accessor.
 */
import { AsyncResource } from 'node:async_hooks';

type Bind = (this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) => (...args: unknown[]) => unknown;

/**
 * Installs the cheaper bind; returns what puts node's own back, or undefined when nothing was installed
 * (this Node's bind has no deprecated accessor to avoid, or the cheaper one is in already).
 */
export function cheapAsyncBind(): (() => void) | undefined {
  const proto = AsyncResource.prototype as unknown as { bind: Bind & { cheap?: boolean } };
  const own = proto.bind;
  if (own.cheap || !/DEP0172/.test(own.toString())) return undefined;
  const bind: Bind & { cheap?: boolean } = function (this: AsyncResource, fn, thisArg) {
    if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
    const resource = this;
    if (thisArg !== undefined) return resource.runInAsyncScope.bind(resource, fn, thisArg) as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return resource.runInAsyncScope(fn, this, ...args);
    };
  };
  bind.cheap = true;
  proto.bind = bind;
  return () => {
    proto.bind = own;
  };
}
