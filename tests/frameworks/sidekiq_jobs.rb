# The job Sidekiq's workers run in the Sidekiq world run (sidekiq_world.ts), and
# its producer. Sidekiq unmodified (Debian's ruby-sidekiq); every connection's
# Redis is REDIS_URL, a rack's Pylon node.
#
#   sidekiq -r ./sidekiq_jobs.rb -q QUEUE     a worker runs CountJob
#   ruby sidekiq_jobs.rb push QUEUE N MS      pushes CountJob(i, MS) for i < N with
#                                             Sidekiq::Client.push; prints one JSON
#                                             line: [jid, ...] (index i is job i)

require "json"
require "sidekiq"

# ruby-redis 4.8 warns on every BRPOP and SADD Sidekiq 6.4 sends; the log keeps the job lines.
Redis.silence_deprecations = true

# Works `ms` milliseconds (a thread holds the job meanwhile, as with any real
# job), then counts this run of job i in `runs:<i>` through the worker's own
# connection.
class CountJob
  include Sidekiq::Worker

  def perform(i, ms)
    sleep(ms / 1000.0)
    Sidekiq.redis { |conn| conn.incr("runs:#{i}") }
  end
end

if $PROGRAM_NAME == __FILE__
  mode, queue, count, ms = ARGV
  raise "unknown mode #{mode.inspect}" unless mode == "push"
  jids = Array.new(Integer(count)) do |i|
    Sidekiq::Client.push("class" => CountJob, "queue" => queue, "args" => [i, Integer(ms)])
  end
  puts JSON.generate(jids)
end
