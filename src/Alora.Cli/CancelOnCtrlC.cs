namespace Alora.Cli;

/// <summary>
/// While alive, Ctrl+C cancels <see cref="Token"/> instead of ending the process (only when the CLI writes to the
/// real console, not in-process under a test), so a long command stops between steps, stops its workers, and a
/// rerun resumes.
/// </summary>
public sealed class CancelOnCtrlC : IDisposable
{
    readonly CancellationTokenSource _cancel = new();
    readonly ConsoleCancelEventHandler? _handler;

    public CancelOnCtrlC(CliIo io)
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
    }

    public CancellationToken Token => _cancel.Token;

    public void Dispose()
    {
        if (_handler is not null)
            Console.CancelKeyPress -= _handler;
        _cancel.Dispose();
    }
}
