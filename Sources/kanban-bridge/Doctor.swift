import ArgumentParser
import Foundation
import KanbanClient
import KanbanConfig
import KanbanModel
import KanbanProtocol
import KanbanStore

/// Checks a deployment and says what is wrong in plain words. Changes nothing.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a board file, a config file and the coordinator's sockets; say what is wrong.",
        discussion: """
            Changes nothing: the board is opened read-only. Each check prints one line: `ok`, `warn` (worth a look) or `FAIL`. Exits 1 when anything FAILs, else 0.

            board    is --db an undamaged (SQLite's integrity_check) Hermes board this kanban-bridge can attach to (the same checks `serve` makes)? Can every local user read it? Would `serve` trust admin.token (yours, private, not swappable)?
            config   does --config load (YAML syntax, known keys, sane values)? Errors come as file:line:column.
            hermes   Hermes' global cap (kanban.max_in_progress in $HERMES_HOME/config.yaml; when unset Hermes 0.21+ derives clamp(MemTotal / 512 MiB, 2, 8), 0.19 has none) counts lanes' claims too: how many slots do lanes hold, and can they take them all?
            sockets  does the command socket answer a ping within --timeout, and accept the admin token? Does anything listen on the event socket? Any lane with a stuck claim or work nobody serves?

            Examples:
              kanban-bridge doctor --db /var/lib/kanban-bridge/kanban.db --config /etc/kanban-bridge/bridge.yaml
              kanban-bridge doctor --no-sockets --config bridge.yaml      # files only, e.g. before a deploy
            """)

    @Option(help: ArgumentHelp("Board file.", valueName: "path"))
    var db: String = "kanban.db"

    @Option(help: ArgumentHelp("Config file to check (YAML, see bridge-config/).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Command socket. Default: $KANBAN_BRIDGE_ENDPOINT, the config's, else \(Endpoints.command).", valueName: "endpoint"))
    var endpoint: String?

    @Option(help: ArgumentHelp("Event socket. Default: the config's, else \(Endpoints.events).", valueName: "endpoint"))
    var eventEndpoint: String?

    @Option(help: "Milliseconds to wait for each socket.")
    var timeout: Int = 2000

    @Option(help: ArgumentHelp("Hermes' home, for its dispatcher's caps (kanban.max_in_progress …). Default: $HERMES_HOME, else ~/.hermes.",
                               valueName: "dir"))
    var hermesHome: String?

    @Flag(help: "Check the files only; do not contact the coordinator.")
    var noSockets = false

    func validate() throws {
        guard (1...600_000).contains(timeout) else { throw ValidationError("--timeout must be 1...600000 ms") }
    }

    func run() throws {
        var report = DoctorReport()
        checkBoard(&report)
        let declared = checkConfig(&report)
        if noSockets {
            report.add(.ok, "sockets", "not checked (--no-sockets)")
        } else {
            let env = ProcessInfo.processInfo.environment
            let command = endpoint ?? env["KANBAN_BRIDGE_ENDPOINT"] ?? declared?.coordinator.commandEndpoint ?? Endpoints.command
            let events = eventEndpoint ?? declared?.coordinator.eventEndpoint ?? Endpoints.events
            checkCommandSocket(command, &report)
            checkEventSocket(events, &report)
        }
        print(report.render())
        if report.failed { throw ExitCode(1) }
    }

    private func checkBoard(_ report: inout DoctorReport) {
        var inspected: BoardReport?
        do {
            // The complete check: doctor has the time, and a damaged index passes the quicker one serve makes.
            guard try SQLiteBoard.verifyIntact(path: db, thorough: true) else {
                report.add(.warn, "board", "\(db) holds an interrupted transaction (\(db)-journal, left by a crash) that only a writer may roll "
                    + "back, so it was not checked; `serve` rolls it back and checks the board at start. Run doctor again after that")
                return
            }
            let board = try SQLiteBoard.inspect(path: db)
            inspected = board
            switch board.kind {
            case .missing:
                report.add(.warn, "board", "no file at \(db); `serve --db \(db)` would create a new, empty board there")
            case .empty where Self.fileSize(db) == 0:
                report.add(.warn, "board", "\(db) is empty (0 bytes); `serve` refuses it, as it may be a board lost to a bad copy. "
                    + "To start a new board there, delete it or pass `serve --init-empty-board`")
            case .empty:
                report.add(.ok, "board", "\(db) is an empty SQLite file; `serve` would make it a Hermes board")
            case .hermesBoard:
                report.add(.ok, "board", "\(db) is a Hermes board (\(board.tasks) tasks) the bridge has not opened yet; `serve` can attach to it")
            case .bridgeBoard(let version):
                report.add(.ok, "board", "\(db) is a Hermes board with bridge tables v\(version): \(board.tasks) tasks, \(board.lanes) lanes")
                if let mode = board.journalMode, mode.lowercased() != "wal" {
                    report.add(.warn, "board", "journal mode is \(mode), not wal: Hermes and the bridge expect WAL")
                }
            }
            for (file, mode) in SQLiteBoard.filesOpenToOthers(path: db) {
                report.add(.warn, "board", "\(file) is readable by every local user (mode \(String(mode, radix: 8))); run: chmod 600 \(file) "
                    + "(or 660 to share it with a group, see `serve --help` for --board-mode)")
            }
        } catch BoardError.incompatibleBoard(let reason) {
            report.add(.fail, "board", reason)
            return
        } catch {
            report.add(.fail, "board", "\(db) cannot be read: \(error)")
            return
        }
        checkAdminToken(&report)
        if let inspected { checkHermesCaps(inspected, &report) }
    }

    /// Hermes' dispatcher counts every running task against its caps, lanes' claims included.
    private func checkHermesCaps(_ board: BoardReport, _ report: inout DoctorReport) {
        let home = hermesHome ?? HermesCaps.defaultHome()
        let caps: HermesCaps?
        do { caps = try HermesCaps.load(hermesHome: home) } catch {
            report.add(.warn, "hermes caps", "\(home)/config.yaml is not valid YAML: \(error)")
            return
        }
        let limit = caps?.failureLimit.map { "\($0) (kanban.failure_limit)" } ?? "\(RetryPolicy.hermesDefaultLimit) (Hermes' default)"
        report.add(.ok, "failure limit", "Hermes gives up on a task after \(limit) failures; serve's --max-retries "
            + "defaults to the same, and a different one is written on each claimed task")
        let others = [("max_spawn", caps?.maxSpawn), ("max_in_progress_per_profile", caps?.maxInProgressPerProfile)]
            .map { "\($0.0) \($0.1.map(String.init) ?? "unset")" }.joined(separator: ", ")
        let cap = HermesGlobalCap.effective(configured: caps?.maxInProgress, memTotalKiB: HermesGlobalCap.hostMemTotalKiB())
        let config = caps == nil ? "no \(home)/config.yaml" : "\(home)/config.yaml"
        guard let share = cap.share(laneClaims: board.runningUnderLanes, running: board.running,
                                    lanesMaxConcurrency: board.lanesMaxConcurrency) else {
            report.add(.ok, "hermes caps", "\(config): Hermes' global cap is \(cap.summary); \(board.running) task(s) running, "
                + "\(board.runningUnderLanes) of them held by bridge lanes (\(others))")
            return
        }
        let line = "Hermes' global cap is \(cap.summary); \(share.held). It counts running tasks on every board of the host"
        if share.full {
            report.add(.warn, "hermes caps", "Hermes' dispatcher spawns nothing now (\"Spawned: 0\"): \(line). To give it room, "
                + share.advice(hermesHome: home) + " (\(others))")
        } else if share.lanesCanStarveHermes {
            report.add(.warn, "hermes caps", "busy lanes can starve Hermes' own dispatcher: their max_concurrency adds up to "
                + "\(share.lanesMaxConcurrency), at or above the cap. \(line). To keep Hermes a slot, " + share.advice(hermesHome: home)
                + " (\(others))")
        } else {
            report.add(.ok, "hermes caps", "\(line): Hermes may start \(share.cap - share.running) more (\(others))")
        }
    }

    private static func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
    }

    private func checkAdminToken(_ report: inout DoctorReport) {
        if let env = ProcessInfo.processInfo.environment[AdminToken.environmentKey], !env.isEmpty {
            report.add(.ok, "admin token", "from $\(AdminToken.environmentKey)")
            return
        }
        let path = AdminToken.filePath(forBoard: db)
        // serve runs as the board's owner, most likely; doctor may well run as root (or with sudo).
        var board = stat()
        let servingUser = stat(db, &board) == 0 ? board.st_uid : geteuid()
        do {
            if try !AdminToken.vetFile(boardPath: db, servingUser: servingUser) {
                report.add(.warn, "admin token", "no \(path) yet; `serve` writes one on first start (admin commands need it)")
            } else {
                report.add(.ok, "admin token", "\(path), private")
            }
        } catch let error as UntrustedAdminToken {
            // `serve` would refuse to start with it.
            report.add(.fail, "admin token", error.description)
        } catch {
            report.add(.fail, "admin token", "\(path): \(error)")
        }
    }

    private func checkConfig(_ report: inout DoctorReport) -> BridgeConfig? {
        guard let config else { return nil }
        do {
            let loaded = try ConfigLoader.load(path: config)
            let problems = LaneRunnability.problems(loaded, file: config, workerPATH: Serve.workerPATH)
            for problem in problems { report.add(.fail, "config", "lane cannot run: \(problem)") }
            if problems.isEmpty { report.add(.ok, "config", "\(config): \(loaded.lanes.count) lane(s) declared, each can run here") }
            return loaded
        } catch let error as ConfigError {
            report.add(.fail, "config", error.description)
        } catch {
            report.add(.fail, "config", "\(config): \(error)")
        }
        return nil
    }

    private func checkCommandSocket(_ endpoint: String, _ report: inout DoctorReport) {
        let admin = AdminToken.find(boardPath: db)
        let client = CommandClient(endpoint: endpoint, auth: admin, timeoutMs: timeout)
        defer { client.reset() }
        let ping: JSONValue
        do {
            ping = try client.call(.ping)
        } catch ClientError.timeout {
            report.add(.fail, "command socket", "\(endpoint) did not answer a ping within \(timeout) ms. Is `kanban-bridge serve` running, "
                + "and is this its --command-endpoint? (A firewall or a wrong host gives the same silence.)")
            return
        } catch ClientError.transport(let why) {
            report.add(.fail, "command socket", "cannot connect to '\(endpoint)' (\(why)); an endpoint looks like tcp://127.0.0.1:5555 or ipc:///run/kanban-bridge/command.sock")
            return
        } catch {
            report.add(.fail, "command socket", "\(endpoint) answered a ping with an error: \(error)")
            return
        }
        report.add(.ok, "command socket", "\(endpoint) answers: kanban-bridge \(ping["version"]?.stringValue ?? "?"), protocol \(ping["protocol"]?.intValue ?? 0), event seq \(ping["last_seq"]?.intValue ?? 0)")
        guard admin != nil else {
            report.add(.warn, "command socket", "no admin token beside \(db), so lanes were not checked")
            return
        }
        do {
            let lanes = try client.call(.laneList)
            report.add(.ok, "command socket", "the admin token beside \(db) is accepted")
            DoctorLanes.check(lanes, nowMs: Int64(Date().timeIntervalSince1970 * 1000), &report)
        } catch let error as WireError where error.code == .unauthorized {
            report.add(.fail, "command socket", "the coordinator at \(endpoint) refuses the admin token beside \(db): it serves another board, "
                + "or runs with $\(AdminToken.environmentKey) set to something else")
        } catch {
            report.add(.warn, "command socket", "lane.list failed: \(error)")
        }
    }

    private func checkEventSocket(_ endpoint: String, _ report: inout DoctorReport) {
        switch EndpointProbe.probe(endpoint, timeoutMs: timeout) {
        case .listening: report.add(.ok, "event socket", "\(endpoint) accepts connections")
        case .unreachable(let why):
            report.add(.fail, "event socket", "\(endpoint): \(why). Is this the coordinator's --event-endpoint? Subscribers (kanban-events, watch lanes) would hear nothing.")
        case .notProbed(let why): report.add(.warn, "event socket", "\(endpoint) not checked: \(why)")
        }
    }
}

/// Lane health from `lane.list`: stuck claims and work that no lane serves.
enum DoctorLanes {
    static func check(_ result: JSONValue, nowMs: Int64, _ report: inout DoctorReport) {
        var stuck = 0
        for lane in result["lanes"]?.arrayValue ?? [] {
            let name = lane["name"]?.stringValue ?? "?"
            for claim in lane["claims"]?.arrayValue ?? [] {
                guard let leaseMs = claim["lease_ms"]?.intValue, let expires = claim["lease_expires_at_ms"]?.intValue else { continue }
                let lastSign = max(claim["claimed_at_ms"]?.intValue ?? 0, (claim["last_heartbeat_at"]?.intValue ?? 0) * 1000)
                let task = claim["task_id"]?.stringValue ?? "?"
                // The dashboard's rule: a fifth of the lease left, or silent for half a lease.
                if expires - nowMs < leaseMs / 5 || nowMs - lastSign > leaseMs / 2 {
                    stuck += 1
                    report.add(.warn, "lane \(name)", "claim on \(task) looks stuck: no heartbeat for \((nowMs - lastSign) / 1000) s of a "
                        + "\(leaseMs / 1000) s lease. Is its worker alive? If not: kanban-bridge task reclaim \(task)")
                }
            }
        }
        for entry in result["unregistered"]?.arrayValue ?? [] {
            let who = entry["assignee"]?.stringValue ?? "?"
            report.add(.warn, "lanes", "\(entry["queued"]?.intValue ?? 0) ready task(s) are assigned to '\(who)', which is no lane: "
                + "register it (kanban-bridge lanes register \(who)) or reassign them")
        }
        let count = result["lanes"]?.arrayValue?.count ?? 0
        if stuck == 0 { report.add(.ok, "lanes", "\(count) lane(s), no stuck claims") }
    }
}

/// The lines doctor prints, and whether any of them failed.
struct DoctorReport {
    enum Level: String { case ok = "ok  ", warn = "warn", fail = "FAIL" }
    private(set) var lines: [(Level, String, String)] = []

    var failed: Bool { lines.contains { $0.0 == .fail } }

    mutating func add(_ level: Level, _ subject: String, _ message: String) { lines.append((level, subject, message)) }

    func render() -> String {
        var out = lines.map { "\($0.0.rawValue)  \($0.1): \($0.2)" }
        let fails = lines.filter { $0.0 == .fail }.count
        out.append(fails == 0 ? "no problems found" : "\(fails) problem(s) found")
        return out.joined(separator: "\n")
    }
}
