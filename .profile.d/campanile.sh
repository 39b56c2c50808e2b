# Sourced by every Heroku dyno at start (HOME is the app's root): puts the
# binaries the Rust buildpack built on PATH, so `heroku run clock status`
# works like the Procfile's `target/release/clock`.
export PATH="$HOME/target/release:$PATH"
