/**
 * The sliver of the Reflect metadata API that `@peculiar/x509` needs: it registers its algorithms through
 * tsyringe, which refuses to load without `Reflect.getMetadata`. The usual fix is the `reflect-metadata`
 * package; only what tsyringe calls is provided here so the binary needs no extra npm package. Imported for its
 * effect, before `@peculiar/x509`, by every module that uses it.
 *
 * @module
 */

type Store = Map<unknown, unknown>;

interface ReflectMetadata {
  getMetadata?(key: unknown, target: object): unknown;
  getOwnMetadata?(key: unknown, target: object): unknown;
  defineMetadata?(key: unknown, value: unknown, target: object): void;
}

const reflect = Reflect as unknown as ReflectMetadata;

// A real polyfill, if some other module loaded one first, keeps its own richer store.
if (typeof reflect.getMetadata !== "function") {
  const stores = new WeakMap<object, Store>();
  reflect.getOwnMetadata = (key, target) => stores.get(target)?.get(key);
  reflect.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const store = stores.get(t);
      if (store?.has(key)) return store.get(key);
    }
    return undefined;
  };
  reflect.defineMetadata = (key, value, target) => {
    let store = stores.get(target);
    if (!store) stores.set(target, store = new Map());
    store.set(key, value);
  };
}
