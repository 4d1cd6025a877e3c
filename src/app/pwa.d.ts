// Types of the service-worker registration module vite-plugin-pwa generates.
/// <reference types="vite-plugin-pwa/vanillajs" />
