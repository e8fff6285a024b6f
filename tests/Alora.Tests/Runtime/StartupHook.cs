// The .NET host runs StartupHook.Initialize (a type outside any namespace) from each assembly named in
// DOTNET_STARTUP_HOOKS before the program's Main. The CLI stress test names this assembly so that the real CLI
// process, progress display and all, runs with a GC storm; ALORA_TEST_GC_STORM=1 asks for one. The test host itself
// never calls it.
#pragma warning disable CA1050 // the host requires the global namespace
internal static class StartupHook
#pragma warning restore CA1050
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable("ALORA_TEST_GC_STORM") == "1")
            _ = new Alora.Tests.Runtime.GcStorm(); // a background thread: it ends with the process
    }
}
