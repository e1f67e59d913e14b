/**
 * Route matching for announce/scrape paths with named parameters ("/:passkey/announce").
 * Routes are split into segments once; matching a path is a segment-by-segment compare
 * with no regex and no allocation beyond the params object.
 */
export type RouteMatcher = (path: string) => Record<string, string> | null;

interface CompiledRoute {
  /** Literal segment, or null for a parameter. */
  readonly literals: Array<string | null>;
  readonly names: Array<string | null>;
}

function compile(route: string): CompiledRoute {
  const segments = route.split('/').slice(1);
  return {
    literals: segments.map((s) => (s.startsWith(':') ? null : s)),
    names: segments.map((s) => (s.startsWith(':') ? s.slice(1) : null)),
  };
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function compileRoutes(routes: string[]): RouteMatcher {
  const compiled = routes.map(compile);
  return (path: string) => {
    const segments = path.split('/');
    // segments[0] is the empty string before the leading '/'.
    if (segments[0] !== '') return null;
    for (const route of compiled) {
      if (route.literals.length !== segments.length - 1) continue;
      let params: Record<string, string> | null = null;
      let ok = true;
      for (let i = 0; i < route.literals.length; i++) {
        const seg = segments[i + 1]!;
        const lit = route.literals[i];
        if (lit === null) {
          if (seg === '') { ok = false; break; }
          (params ??= {})[route.names[i]!] = seg;
        } else if (lit !== seg) {
          ok = false;
          break;
        }
      }
      if (ok) return params ?? NO_PARAMS;
    }
    return null;
  };
}
