import Testing
@testable import SwellWorkflow
@Test func placeholder() {}
