// The door scanner's service worker: the scanner page and its scripts come from the network when there is one and
// from the last copy otherwise, so a phone that reloads the page, or whose browser dropped the tab, keeps
// scanning offline. API calls are left to the page, which queues what it cannot send.
"use strict";
const CACHE = "onsale-scan-v1";
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin) return;
  if (!url.pathname.startsWith("/scan/") && !url.pathname.startsWith("/assets/")) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const r = await fetch(e.request);
      if (r.ok) await cache.put(e.request, r.clone());
      return r;
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
