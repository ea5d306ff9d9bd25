/** The major the project runs on (the `node` dependency; docs/deployment.md). */
export const NODE_MAJOR = 24;

/**
 * The e2e and integration tiers spawn the apps with process.execPath, the node running jest: refuse to test
 * them on an older major than the one they ship on.
 */
export function assertNodeMajor(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < NODE_MAJOR) {
    throw new Error(
      `jest runs on Node ${process.version} (${process.execPath}); the apps run on ${NODE_MAJOR}. Start it through npm or npx, which put node_modules/.bin/node first on PATH.`,
    );
  }
}
