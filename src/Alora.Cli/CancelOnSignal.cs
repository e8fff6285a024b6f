using System.Runtime.InteropServices;

namespace Alora.Cli;

/// <summary>
/// While alive, Ctrl+C and SIGTERM cancel <see cref="Token"/> instead of ending the process (only when the CLI writes
/// to the real console, not in-process under a test), so a long command stops between steps, writes a checkpoint
/// where it stopped, stops its workers, and a rerun resumes. SIGTERM is what Slurm sends at a job's time limit (and
/// scancel), some seconds before SIGKILL; a second SIGTERM ends the process at once.
/// </summary>
public sealed class CancelOnSignal : IDisposable
{
    readonly CancellationTokenSource _cancel = new();
    readonly ConsoleCancelEventHandler? _handler;
    readonly PosixSignalRegistration? _term;

    public CancelOnSignal(CliIo io)
    {
        ArgumentNullException.ThrowIfNull(io);
        if (!ReferenceEquals(io.Err, Console.Error))
            return;
        _handler = (_, e) =>
        {
            e.Cancel = true;
            _cancel.Cancel();
        };
        Console.CancelKeyPress += _handler;
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = !_cancel.IsCancellationRequested;
            _cancel.Cancel();
        });
    }

    public CancellationToken Token => _cancel.Token;

    public void Dispose()
    {
        if (_handler is not null)
            Console.CancelKeyPress -= _handler;
        _term?.Dispose();
        _cancel.Dispose();
    }
}
