import Foundation
import Hummingbird

import KanbanModel
import Logging

import Synchronization
import ZeroMQ

/// The routes, registered in one place.
enum WebRoutes {
    static func router(_ services: WebServices, console: ConsoleFiles, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: FrontDoor(console: console, logger: logger))
        addSessionRoutes(to: router, services)
        addBoardRoutes(to: router, services)
        addActionRoutes(to: router, services)
        addStreamRoute(to: router, services)
        addOpsRoutes(to: router, services)
        return router
    }
}

/// Why the HTTP face did not start.
public struct WebStartError: Error, CustomStringConvertible {
    public let description: String
}

/// The HTTP face: a Hummingbird server on SwiftNIO's event loops, a few threads carrying requests
/// to the coordinator's command socket, and one thread following its event socket. None of them is
/// the coordinator's owner thread; the face is a client of the wire like any other, so it can run in
/// `serve`'s process or on another host (`kanban-bridge web`).
public final class WebFace: @unchecked Sendable {
    public let settings: WebSettings
    private let logger: Logger
    private let services: WebServices
    private let console: ConsoleFiles
    private var task: Task<Void, Error>?

    public init(settings: WebSettings, console: ConsoleFiles = .bundled(), logger: Logger = Logger(label: "kanban-web"),
                context: ZMQContext = ZMQContext()) {
        self.settings = settings
        self.logger = logger
        self.console = console
        let hub = EventHub(keepaliveSeconds: settings.keepaliveSeconds)
        services = WebServices(calls: CoordinatorCalls(endpoint: settings.commandEndpoint, threads: settings.wireThreads, context: context),
                               sessions: Sessions(), hub: hub, settings: settings, streams: StreamSlots(limit: settings.maxStreams))
        hub.start(commandEndpoint: settings.commandEndpoint, eventEndpoint: settings.eventEndpoint, token: settings.token, context: context)
    }

    /// The live SSE clients (for tests and the benchmark).
    public var streamClients: Int { services.hub.clientCount }

    /// Starts listening and returns the bound port (useful with port 0). Refuses a non-loopback bind
    /// without `insecureRemote`. The server runs on its own tasks until `stop()`.
    public func start(timeout: TimeInterval = 30) throws -> Int {
        if let refusal = settings.bindRefusal { throw WebStartError(description: refusal) }
        let bound = Mutex<Result<Int, Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        let app = Application(
            router: WebRoutes.router(services, console: console, logger: logger),
            server: .http1(configuration: .init(idleTimeout: .seconds(settings.idleTimeoutSeconds))),
            configuration: .init(address: .hostname(settings.bind.host, port: settings.bind.port), serverName: nil),
            onServerRunning: { channel in
                bound.withLock { $0 = .success(channel.localAddress?.port ?? 0) }
                ready.signal()
            },
            logger: logger)
        task = Task.detached {
            do {
                try await app.runService(gracefulShutdownSignals: [])
            } catch {
                bound.withLock { if $0 == nil { $0 = .failure(error) } }
                ready.signal()
                throw error
            }
        }
        guard ready.wait(timeout: .now() + timeout) == .success, let result = bound.withLock({ $0 }) else {
            stop()
            throw WebStartError(description: "the HTTP server did not start within \(Int(timeout)) s")
        }
        switch result {
        case .success(let port):
            logger.notice("HTTP face listening", metadata: ["address": "\(HTTPBind(host: settings.bind.host, port: port))"])
            return port
        case .failure(let error):
            stop()
            throw WebStartError(description: "cannot serve HTTP on \(settings.bind): \(error)")
        }
    }

    /// Stops the server (open SSE streams end) and the wire threads.
    public func stop() {
        services.hub.stop()
        task?.cancel()
        task = nil
        services.calls.stop()
    }

    /// Waits until the server has stopped.
    public func wait() async {
        _ = await task?.result
    }
}
