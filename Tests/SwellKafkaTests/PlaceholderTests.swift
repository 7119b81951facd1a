import XCTest
@testable import SwellKafka

final class PlaceholderTests: XCTestCase {
    func testModuleBuilds() {}
}
