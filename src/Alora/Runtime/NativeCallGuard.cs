using System.Runtime;

namespace Alora.Runtime;

/// <summary>
/// Keeps the .NET garbage collector from running while the thread that drives torch is inside a native call.
/// <para>
/// Why: TorchSharp 0.107 hands temporary <c>Scalar</c>s to libtorch by handle only: the alpha = 1 that every
/// <c>Tensor.add(Tensor)</c> and <c>sub</c> creates, and every <c>tensor op double</c>. Once the handle is read the
/// Scalar is unreachable, so a collection that another thread triggers during the native call (a progress bar's
/// renderer, the test host) lets the finalizer thread free the <c>c10::Scalar</c> while libtorch is about to read it.
/// libtorch then fails with "Expected false to be true" (from <c>Scalar::toFloat</c>) or "Unknown scalar type", or
/// worse reads a wrong value. <c>tests/Alora.Tests/NativeCallGuardTests.cs</c> reproduces it.
/// </para>
/// <para>
/// The guard keeps a no-GC region open between step boundaries. Collections then happen only when the stepping thread
/// itself renews the region, in managed code, where every Scalar it has made is finished with. The region's budget is
/// <see cref="RegionBytes"/> of allocation by all threads; it is renewed once half of it is spent, which costs one
/// blocking collection per <see cref="RegionBytes"/>/2 allocated (about 0.2 ms on a small heap here).
/// It protects one torch thread per process, which is how Alora runs (parallel jobs are processes): the collection
/// that renews a region could still free a Scalar that a second torch thread has in flight.
/// </para>
/// </summary>
public static class NativeCallGuard
{
    /// <summary>Allocation budget of one region (all threads together).</summary>
    public const long RegionBytes = 64L << 20;

    /// <summary>
    /// Set to "0" to turn the guard off, in a process whose only thread that allocates is the one driving torch (its
    /// collections then come at its own allocations, in managed code). The experiment's worker processes are such.
    /// Why bother: a region's allocations land on fresh pages, which the kernel faults in one by one; a demo job
    /// (140 MB allocated in 300 steps and its evaluation) faulted 132,000 pages instead of 66,000 and took 36.5 to
    /// 38.8 s instead of 34.5 to 35.5 s here.
    /// </summary>
    public const string Variable = "ALORA_NATIVE_CALL_GUARD";

    static readonly bool Off = Environment.GetEnvironmentVariable(Variable) == "0";
    static readonly Lock Gate = new();
    static long _armedAtAllocated;
    static bool _unavailable;

    /// <summary>Regions opened so far in this process.</summary>
    public static long Regions { get; private set; }

    /// <summary>Whether a region is open now.</summary>
    public static bool Active => GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;

    /// <summary>
    /// Call on the torch thread where it holds no temporary Scalar: before a training step, an evaluation batch, a
    /// decoding step. Cheap when the open region still has at least half its budget.
    /// </summary>
    public static void AtStepBoundary()
    {
        if (_unavailable || Off) return;
        lock (Gate)
        {
            bool open = Active;
            if (open && GC.GetTotalAllocatedBytes(false) - _armedAtAllocated < RegionBytes / 2) return;
            if (open) End();
            try
            {
                if (!GC.TryStartNoGCRegion(RegionBytes)) return;
                _armedAtAllocated = GC.GetTotalAllocatedBytes(false);
                Regions++;
            }
            catch (ArgumentOutOfRangeException)
            {
                _unavailable = true; // a heap too small for the budget (a hard memory limit): run unguarded, as TorchSharp does
            }
            catch (InvalidOperationException)
            {
                // another owner opened a region; it protects us as well
            }
        }
    }

    /// <summary>Closes the open region, if any (for code that must collect, such as a memory measurement).</summary>
    public static void Release()
    {
        lock (Gate) if (Active) End();
    }

    static void End()
    {
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { } // ended already: an induced collection or an exhausted budget closed it
    }
}
