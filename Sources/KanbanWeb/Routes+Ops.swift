import Hummingbird
import KanbanModel
import KanbanProtocol

/// `/healthz` for supervisors and `/metrics` for Prometheus.
extension WebRoutes {
    static func addOpsRoutes(to router: Router<BasicRequestContext>, _ services: WebServices) {
        // No credential and no board content: only whether the coordinator answers.
        router.get("/healthz") { _, _ -> Response in
            let up = (try? await services.calls.call(.ping, auth: nil)) != nil
            return Response(status: up ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: up ? "ok\n" : "coordinator unreachable\n")))
        }
        router.get("/metrics") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            async let stats = services.call(.stats(windowSeconds: 300), as: caller)
            async let ping = services.call(.ping, as: caller)
            let seen = services.hub.snapshot()
            let head = max(seen.lastSeq, try await ping["last_seq"]?.intValue ?? 0)
            let text = MetricsText.render(stats: try await stats, eventsSeen: seen.counts, lastSeq: head)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
