namespace Alora.Tests.Runtime;

/// <summary>
/// A thread that forces a collection of the young generation and runs the finalizers as often as it can, with a little garbage
/// between them: any TorchSharp object that nothing keeps alive (a temporary Scalar, a tensor outside a dispose
/// scope) is then finalized, freeing its native object, within microseconds of becoming unreachable, which is
/// whenever the thread that drives torch is inside a native call. It makes TorchSharp's race the likely case instead
/// of a rare one.
/// </summary>
public sealed class GcStorm : IDisposable
{
    readonly Thread _thread;
    volatile bool _stop;

    public GcStorm()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "gc-storm" };
        _thread.Start();
    }

    /// <summary>Collections forced so far.</summary>
    public long Collections { get; private set; }

    void Run()
    {
        while (!_stop)
        {
            for (int i = 0; i < 64; i++)
                GC.KeepAlive(new byte[1024]);
            GC.Collect(0, GCCollectionMode.Forced, blocking: true); // the young generation, where temporaries die: cheap, so frequent
            GC.WaitForPendingFinalizers();
            Collections++;
            Thread.SpinWait(200); // lets the torch thread reach its next native call between collections
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
