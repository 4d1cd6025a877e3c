import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const THEME = '#0f5e6e';

/**
 * The dev server injects CSS as <style> elements, which index.html's Content-Security-Policy
 * forbids (style-src 'self'). Relax style-src for `vite` (dev) only; built pages keep the strict policy.
 */
function devStyleCsp(): Plugin {
  return {
    name: 'dev-style-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  };
}

export default defineConfig({
  plugins: [
    svelte({ configFile: false }),
    devStyleCsp(),
    VitePWA({
      // A new version waits until the user accepts "Update available — reload"
      // (src/app/ReloadPrompt.svelte registers the service worker through virtual:pwa-register).
      registerType: 'prompt',
      injectRegister: false,
      // globPatterns below already precaches everything in public/, icons included.
      includeManifestIcons: false,
      manifest: {
        name: 'Edge classifier',
        short_name: 'Classifier',
        description: 'Classifies camera images on this device with a small convolutional network. Works offline.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        background_color: '#fbfbf8',
        theme_color: THEME,
        icons: [
          { src: 'icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // The app shell, the engine worker chunk (the WebGL shaders and the WebAssembly kernels
        // are inside it), everything in public/: icons and the default model (models/*.cnn).
        // The manifest is added by the plugin itself.
        globPatterns: ['**/*.{html,js,css,svg,png,ico,json,bin,cnn,wasm}'],
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
        // The first service worker takes control of the open page at once, so the first visit
        // already works offline; later versions wait for the prompt (no skipWaiting).
        clientsClaim: true,
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
      },
    }),
  ],
  worker: {
    format: 'es',
  },
  build: {
    target: 'es2022',
  },
});
