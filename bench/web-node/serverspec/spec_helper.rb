# serverspec setup for the web-node benchmark; the runner says where the target is
# through the environment, so one generated spec serves both backends:
#
#   BENCH_BACKEND=docker BENCH_CONTAINER=ID
#   BENCH_BACKEND=ssh    BENCH_SSH_PORT=PORT BENCH_SSH_KEY=FILE BENCH_KNOWN_HOSTS=FILE
#
# Nothing here tells serverspec the OS: it detects it, as it does for its users.
require 'serverspec'

case ENV.fetch('BENCH_BACKEND')
when 'docker'
  # specinfra's Docker backend talks to the Engine API through the docker-api gem
  # (Debian: ruby-docker-api); one exec per command, no `docker` CLI process.
  set :backend, :docker
  set :docker_container, ENV.fetch('BENCH_CONTAINER')
when 'ssh'
  # One Net::SSH connection for the whole run, as root with the bench's own key,
  # checked against the bench's own known_hosts; ~/.ssh is never read.
  set :backend, :ssh
  set :host, '127.0.0.1'
  set :ssh_options,
      user: 'root',
      port: Integer(ENV.fetch('BENCH_SSH_PORT')),
      keys: [ENV.fetch('BENCH_SSH_KEY')],
      keys_only: true,
      use_agent: false,
      config: false,
      user_known_hosts_file: ENV.fetch('BENCH_KNOWN_HOSTS'),
      global_known_hosts_file: '/dev/null',
      verify_host_key: :always,
      non_interactive: true
else
  abort "BENCH_BACKEND must be docker or ssh, not #{ENV['BENCH_BACKEND'].inspect}"
end
