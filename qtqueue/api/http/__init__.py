"""The engine's HTTP face: the REST API, the admin page and the Prometheus metrics.

One aiohttp application (`app.build_app`) over one running `TaskQueue`, served on TCP by
`server.HttpServer` (`qtqueue run --http HOST:PORT`, or the window's setting). Each part adds
its routes: `rest` (the `/tasks/...` routes, `/events`, `/openapi.json`), `admin` (the
`/admin/tasks` page and its assets), `metrics` (`/metrics`). Every route needs the data
directory's API key (`Authorization: Bearer KEY`) unless its handler is marked `public`.
"""
