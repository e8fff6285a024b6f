using System.Diagnostics;

namespace Alora.Experiments;

public static partial class Experiment
{
    sealed partial class Runner
    {
        /// <summary>A job handed to the launcher, with what its folder held before (the counters compare it with after).</summary>
        sealed record Launched(
            ExperimentJob Job,
            int Ordinal,
            string Stage,
            Task Task,
            Stopwatch Clock,
            bool HadSummary,
            bool HadCheckpoint,
            bool HadEval
        );

        /// <summary>
        /// Runs the plan through the launcher: a job starts once the jobs it reads have finished, at most Workers at
        /// once, in plan order among those ready; a job whose outputs exist is passed over here, as in the sequential
        /// run. Events are reported on the calling thread. After a failure nothing new starts and the running jobs
        /// finish (their work is kept for a rerun); on cancellation the launcher stops them.
        /// </summary>
        sealed class Workers(Runner r, ExperimentPlan plan, ExperimentRunOptions opt, Func<string, CancellationToken, Task> launch)
        {
            readonly List<ExperimentJob> _waiting = [.. plan.Jobs];
            readonly HashSet<string> _finished = [];
            readonly List<Launched> _running = [];
            readonly List<(string Job, Exception Error)> _failures = [];
            readonly List<double> _seconds = [];
            int _toLaunch;

            public void Run()
            {
                _toLaunch = _waiting.Count(j => !r.Done(j));
                while (true)
                {
                    StartReady();
                    if (_running.Count == 0)
                        break;
                    int i = Task.WaitAny([.. _running.Select(l => l.Task)]);
                    var done = _running[i];
                    _running.RemoveAt(i);
                    Complete(done);
                }
                opt.Cancel.ThrowIfCancellationRequested();
                if (_failures.Count > 0)
                {
                    var (job, error) = _failures[0];
                    var others = _failures.Count > 1 ? $" (and {string.Join(", ", _failures.Skip(1).Select(f => f.Job))})" : "";
                    throw new AloraException($"{job} failed{others}: {error.Message}", error);
                }
                if (_waiting.Count > 0)
                    throw new InvalidOperationException($"jobs never ready: {string.Join(", ", _waiting.Select(j => j.Name))}");
            }

            void StartReady()
            {
                for (bool again = true; again && _failures.Count == 0 && !opt.Cancel.IsCancellationRequested; )
                {
                    again = false;
                    foreach (var job in _waiting.Where(j => j.DependsOn.All(_finished.Contains)).ToList())
                    {
                        if (r.Done(job))
                        {
                            _waiting.Remove(job);
                            r._index = Ordinal(job);
                            r.RunJob(job); // reports it as already done, counts it
                            Finish(job);
                            again = true; // its dependents may be ready now
                        }
                        else if (_running.Count < opt.Workers)
                        {
                            _waiting.Remove(job);
                            Launch(job);
                        }
                    }
                }
            }

            void Launch(ExperimentJob job)
            {
                var dir = plan.RunDir(job.Name);
                var stage = string.Join(" + ", r.Pending(job));
                bool hadSummary = File.Exists(Path.Combine(dir, "summary.json")),
                    hadCheckpoint = HasCheckpoint(dir);
                bool hadEval = job.Eval is not null && r.EvalDone(job);
                // Task.Run: a launcher that works before its first await must not hold up this loop
                var task = Task.Run(() => launch(job.Name, opt.Cancel));
                var l = new Launched(job, Ordinal(job), stage, task, Stopwatch.StartNew(), hadSummary, hadCheckpoint, hadEval);
                _running.Add(l);
                Report(ProgressEvent.Started, l);
            }

            void Complete(Launched l)
            {
                if (opt.Cancel.IsCancellationRequested && !l.Task.IsCompletedSuccessfully)
                    return;
                if (!l.Task.IsCompletedSuccessfully || !r.Done(l.Job))
                {
                    var error = l.Task.Exception?.InnerException
                        ?? (
                            l.Task.IsCanceled
                                ? new OperationCanceledException("the launcher cancelled it")
                                : new AloraException("its worker returned without finishing it")
                        );
                    _failures.Add((l.Job.Name, error));
                    Report(ProgressEvent.Failed, l);
                    return;
                }
                if (l.Job.Kind is JobKind.General or JobKind.Domain)
                {
                    if (l.HadSummary)
                        r._skipped++;
                    else if (l.HadCheckpoint)
                        r._resumed++;
                    else
                        r._trained++;
                }
                if (l.Job.Eval is not null && !l.HadEval)
                    r._evaluated++;
                if (l.Job.Kind == JobKind.Fisher)
                    r._fisher++;
                _seconds.Add(l.Clock.Elapsed.TotalSeconds);
                Finish(l.Job);
                Report(ProgressEvent.Finished, l);
            }

            void Finish(ExperimentJob job)
            {
                _finished.Add(job.Name);
                r._jobsDone++;
            }

            int Ordinal(ExperimentJob job) => plan.Jobs.ToList().IndexOf(job) + 1;

            void Report(ProgressEvent e, Launched l)
            {
                if (opt.Progress is null)
                    return;
                opt.Progress.Report(
                    new ExperimentProgress(e, l.Ordinal, plan.Jobs.Count, l.Job.Name, l.Stage, 0, 0, null, l.Clock.Elapsed, null, Remaining())
                    {
                        JobsDone = r._jobsDone,
                    }
                );
            }

            /// <summary>The launched jobs left times their mean duration so far, less what the running ones have done, shared by the workers.</summary>
            TimeSpan? Remaining()
            {
                if (_seconds.Count == 0)
                    return null;
                double mean = _seconds.Average();
                int left = _toLaunch - _seconds.Count;
                double work = mean * left - _running.Sum(l => Math.Min(mean, l.Clock.Elapsed.TotalSeconds));
                return TimeSpan.FromSeconds(Math.Max(0, work) / Math.Clamp(left, 1, opt.Workers));
            }
        }
    }
}
