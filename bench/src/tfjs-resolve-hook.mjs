// A Node module-resolution hook for the TF.js peer only: tfjs-core publishes its gradient registrations
// (dist/register_all_gradients.js) as ES modules with extensionless and directory imports, which Node's ESM
// resolver refuses. Inside @tensorflow packages, retry such specifiers as `x.js` and `x/index.js`.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (!relative || !context.parentURL?.includes('/node_modules/@tensorflow/')) throw error;
    for (const candidate of [`${specifier}.js`, `${specifier}/index.js`]) {
      try {
        return await next(candidate, context);
      } catch {
        // try the next form
      }
    }
    throw error;
  }
}
