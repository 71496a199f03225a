// Next.js configuration. The dashboard (app/, components/) arrives with the playground issue;
// `npm start` runs server/main.ts, which will host Next.js and the node supervisor together.

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // Node-only packages the server side of the app uses as they are, unbundled.
  serverExternalPackages: ['prom-client'],
};

export default nextConfig;
