import KanbanModel
import XCTest
@testable import KanbanProtocol

final class EndpointTests: XCTestCase {
    func test_loopbackIpcAndInproc_areLocal_everythingElseIsRemote() {
        for local in ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:1", "tcp://localhost:5555", "tcp://[::1]:5555", "tcp://lo:5555",
                      "ipc:///tmp/kb.sock", "inproc://x"] {
            XCTAssertTrue(Endpoints.isLocal(local), local)
        }
        for remote in ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.5:5555", "tcp://eth0:5555", "tcp://[::]:5555",
                       "tcp://127.0.0.1.evil.example:5555", "tcp://128.0.0.1:5", "ws://127.0.0.1:5555", "tcp://127.0.0.1"] {
            XCTAssertFalse(Endpoints.isLocal(remote), remote)
        }
    }
}
