#!/usr/bin/env bash
# `npm run image:check`: runs the image of the last `npm run image:build` (podman, no Docker) and checks
# what the Dockerfile promises: both commands start (`agent --help`, `coordinator --help`) as the
# non-root user on a read-only root filesystem with no capabilities; the image holds no development
# dependency (by package-lock.json's own flags), no TypeScript compiler or loader, no .ts file and no npm.
# Also starts the pod sandbox image and stops it. Exits non-zero at the first failed check.
# Usage: check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

lock_cache -s
[ -f "$IMAGE_ENV" ] || die "no $IMAGE_ENV: run npm run image:build first"
# shellcheck disable=SC1090
source "$IMAGE_ENV"
ensure_tools podman:podman buildah:buildah runc:runc
ensure_in_storage "$KEYLEASE_IMAGE" "$KEYLEASE_IMAGE_ARCHIVE"
ensure_in_storage "$KEYLEASE_PAUSE_IMAGE" "$KEYLEASE_PAUSE_ARCHIVE"

failures=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; failures=$((failures + 1)); }

# As a restricted pod would run it. The limits are set below this machine's hard ones: podman's defaults
# are higher, and raising a hard limit needs a capability the container runtime may not have.
run=(run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

for command in agent coordinator; do
  if out="$(imgpodman "${run[@]}" "$KEYLEASE_IMAGE" "$command" --help 2>&1)" && [[ "$out" == "Usage: keylease $command "* ]]; then
    pass "keylease $command --help runs in the image ($(wc -l <<<"$out") lines of usage)"
  else
    fail "keylease $command --help in the image printed: $(head -n 5 <<<"$out")"
  fi
done

user="$(imgpodman "${run[@]}" --entrypoint node "$KEYLEASE_IMAGE" -e 'process.stdout.write(`${process.getuid()}:${process.getgid()}`)' 2>&1 || true)"
if [[ "$user" =~ ^[0-9]+:[0-9]+$ ]] && [ "${user%%:*}" != 0 ]; then pass "runs as the non-root user $user"; else fail "the image's user is '$user', not a non-root uid:gid"; fi

# Every package under /app/node_modules, and what the runtime must not have, listed inside the image.
inventory="$(imgpodman "${run[@]}" --entrypoint node "$KEYLEASE_IMAGE" --input-type=module -e '
  import { existsSync, readdirSync } from "node:fs";
  import { join } from "node:path";
  const packages = [];
  const walk = (dir, rel) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === ".bin") continue;
      const path = join(dir, entry.name), relPath = `${rel}/${entry.name}`;
      if (entry.name.startsWith("@")) { walk(path, rel + "/" + entry.name); continue; }
      if (existsSync(join(path, "package.json"))) packages.push(relPath.replace(/^\//, "").replace(/\/@/g, "/@"));
      if (existsSync(join(path, "node_modules"))) walk(join(path, "node_modules"), `${relPath}/node_modules`);
    }
  };
  walk("/app/node_modules", "node_modules");
  const tsFiles = [];
  const find = (dir) => { for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p); else if (/\.[cm]?ts$/.test(e.name)) tsFiles.push(p);
  } };
  find("/app");
  const npm = ["/usr/local/bin/npm", "/usr/bin/npm", "/usr/local/lib/node_modules/npm"].filter((p) => existsSync(p));
  console.log(JSON.stringify({ packages, tsFiles, npm }));
' 2>&1)" || { fail "listing the image's packages failed: $inventory"; inventory=""; }

if [ -n "$inventory" ]; then
  report="$(cd "$root" && INVENTORY="$inventory" node --input-type=module -e '
    import { readFileSync } from "node:fs";
    const { packages, tsFiles, npm } = JSON.parse(process.env.INVENTORY);
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8")).packages;
    const dev = packages.filter((p) => lock[p]?.dev === true);
    const unknown = packages.filter((p) => !lock[p]);
    const tooling = packages.filter((p) => /(^|\/)node_modules\/(typescript|tsx|esbuild|@esbuild\/[^/]+|ts-node)$/.test(p));
    const lines = [];
    lines.push(dev.length ? `FAIL development dependencies in the image: ${dev.join(", ")}` : `ok   no development dependency among the ${packages.length} installed packages`);
    lines.push(unknown.length ? `FAIL packages in the image that package-lock.json does not lock: ${unknown.join(", ")}` : "ok   every installed package is locked in package-lock.json");
    lines.push(tooling.length ? `FAIL TypeScript tooling in the image: ${tooling.join(", ")}` : "ok   no TypeScript compiler or loader (typescript, tsx, esbuild)");
    lines.push(tsFiles.length ? `FAIL TypeScript files in the image: ${tsFiles.slice(0, 5).join(", ")}` : "ok   no .ts file under /app");
    lines.push(npm.length ? `FAIL npm is in the runtime image: ${npm.join(", ")}` : "ok   no npm in the runtime image");
    console.log(lines.join("\n"));
  ')"
  echo "$report"
  failures=$((failures + $(grep -c '^FAIL' <<<"$report" || true)))
fi

# The sandbox image: starts as PID 1 and exits 0 when stopped.
if sandbox="$(imgpodman run -d --network none --read-only --cap-drop ALL --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$KEYLEASE_PAUSE_IMAGE" 2>&1)"; then
  imgpodman stop -t 5 "$sandbox" >/dev/null
  code="$(imgpodman inspect --format '{{.State.ExitCode}}' "$sandbox")"
  imgpodman rm "$sandbox" >/dev/null
  if [ "$code" = 0 ]; then pass "$KEYLEASE_PAUSE_IMAGE runs and exits 0 on SIGTERM"; else fail "$KEYLEASE_PAUSE_IMAGE exited $code on SIGTERM"; fi
else
  fail "$KEYLEASE_PAUSE_IMAGE did not start: $sandbox"
fi

if [ "$failures" -gt 0 ]; then die "$failures image check(s) failed ($KEYLEASE_IMAGE)"; fi
log "all image checks passed ($KEYLEASE_IMAGE)"
