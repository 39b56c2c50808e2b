mod common;

use common::RedisServer;

#[test]
fn private_server_answers_ping_over_a_real_connection() {
    let server = RedisServer::start();
    let mut con = server.connection();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    assert_ne!(server.port(), 6379, "tests must never use the shared server");
}

#[test]
fn servers_are_isolated_from_each_other() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let mut ca = a.connection();
    let mut cb = b.connection();
    let _: () = redis::cmd("SET").arg("k").arg("a").query(&mut ca).unwrap();
    let seen: Option<String> = redis::cmd("GET").arg("k").query(&mut cb).unwrap();
    assert_eq!(seen, None);
}

#[test]
#[should_panic(expected = "redis-server was not found on PATH")]
fn missing_redis_server_fails_with_an_install_hint() {
    RedisServer::start_program("campanile-test-no-such-redis-server");
}
