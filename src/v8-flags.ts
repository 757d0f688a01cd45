/**
 * V8 flags identica sets at run time, in one place (applied by net-libs.ts, from http/dispatcher.ts).
 *
 * undici parses HTTP with llhttp compiled to WebAssembly at the first connection. V8 compiles it twice
 * by default, quickly (Liftoff) and then optimised (TurboFan) on background threads that the process
 * waits for before it can exit: about 100 ms on a 2-core machine, for a run that makes a few requests
 * and never profits from the second compile.
 *
 * Changing a flag changes the hash V8 checks code caches against: every Node module compiled after it
 * loses the code cache built into Node (tls then takes ~4 times as long), and a code cache of ours
 * taken while it is set would be rejected by the next run. So the flags are set just before the first
 * connection, once the modules it needs are loaded, and undone at exit before our caches are taken.
 *
 * V8 reports a flag it does not know on stderr instead of throwing: test/e2e/startup.test.ts checks
 * that this Node's V8 still accepts them.
 */
export const V8_FLAGS = "--liftoff-only";

/**
 * V8's defaults for V8_FLAGS and the flags it implies (--liftoff-only turns tier-up off): setting them
 * at exit gives back the hash the next run will check its code caches against (bundles.ts).
 */
export const V8_FLAGS_UNDONE = "--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering";

/**
 * The function (on globalThis) that net-libs.ts calls just before it sets the flags, so that the code
 * caches are taken first (bundles.ts). A global: the bundles are separate scripts.
 */
export const BEFORE_V8_FLAGS = Symbol.for("identica.beforeV8Flags");
