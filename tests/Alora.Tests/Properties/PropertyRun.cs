using System.Text;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>
/// How the parser properties run. CsCheck draws fresh random cases on every run, on two threads; a failure is
/// shrunk to a small case and reported with a line "Set seed: "xxxx" ... to reproduce". To replay it, put that
/// seed in the failing class's <c>Seed</c> constant (or run the one test with the environment variable
/// <c>CsCheck_Seed=xxxx</c>, e.g. <c>CsCheck_Seed=xxxx dotnet test -c Release --filter FullyQualifiedName~NameOfTheTest</c>):
/// the seeded case runs first, then the usual random ones. <c>CsCheck_Iter</c> overrides every property's case
/// count (e.g. 100000 for a long soak run).
/// </summary>
internal static class PropertyRun
{
    /// <summary>Runs a property with a time limit, so that a parser that hangs fails the test instead of stalling the suite.</summary>
    public static void Check<T>(Gen<T> gen, Action<T> property, long iter, string? seed, Func<T, string>? print = null)
    {
        var envIter = Environment.GetEnvironmentVariable("CsCheck_Iter");
        var n = string.IsNullOrWhiteSpace(envIter) ? iter : -1; // -1: CsCheck's own default, which reads CsCheck_Iter
        var run = Task.Factory.StartNew(() => gen.Sample(property, seed: seed, iter: n, threads: 2, print: print), TaskCreationOptions.LongRunning);
        // The limit is far above a normal run's few seconds; a soak run (CsCheck_Iter) gets an hour.
        if (!run.Wait(n == -1 ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(2)))
            Assert.Fail("the property ran past its time limit: a parser is probably looping");
    }

    public static void Check<T1, T2>(Gen<(T1, T2)> gen, Action<T1, T2> property, long iter, string? seed) =>
        Check(gen, t => property(t.Item1, t.Item2), iter, seed);

    public static void Check<T1, T2, T3>(Gen<(T1, T2, T3)> gen, Action<T1, T2, T3> property, long iter, string? seed) =>
        Check(gen, t => property(t.Item1, t.Item2, t.Item3), iter, seed);

    public static void Check<T1, T2, T3, T4>(Gen<(T1, T2, T3, T4)> gen, Action<T1, T2, T3, T4> property, long iter, string? seed) =>
        Check(gen, t => property(t.Item1, t.Item2, t.Item3, t.Item4), iter, seed);

    /// <summary>
    /// The outcome every parser must have: a value, or an <see cref="AloraException"/> whose message starts with the
    /// file's path. Any other exception escapes and fails the property. Returns the value or the error's message.
    /// </summary>
    public static (T? Value, string? Error) Outcome<T>(string path, Func<T> parse)
        where T : class
    {
        try
        {
            return (parse(), null);
        }
        catch (AloraException e)
        {
            if (!e.Message.StartsWith(path, StringComparison.Ordinal))
                throw new InvalidOperationException($"the error does not start with the file's path {path}: {e.Message}", e);
            return (null, e.Message);
        }
    }

    /// <summary>The value of an input that must parse (an error fails the property, with its message).</summary>
    public static T Succeeds<T>(string path, string what, Func<T> parse)
        where T : class
    {
        var (value, error) = Outcome(path, parse);
        return value ?? throw new InvalidOperationException($"a valid input was refused ({what}): {error}");
    }

    static long _counter;

    /// <summary>A fresh file name in the folder (cases run on two threads at once).</summary>
    public static string NewFile(CaseDir dir, string extension) => dir.File($"case{Interlocked.Increment(ref _counter)}{extension}");

    /// <summary>Writes a case's bytes, runs the check, and removes the file so the folder stays small.</summary>
    public static void WithFile(CaseDir dir, string extension, byte[] bytes, Action<string> check)
    {
        var path = NewFile(dir, extension);
        File.WriteAllBytes(path, bytes);
        try
        {
            check(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Text that is valid Unicode: ASCII (with JSON's special characters), Latin, CJK, and pairs beyond the BMP.</summary>
    public static readonly Gen<string> Text = Gen.OneOf(
            Gen.Char["abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,;:!?-_/'"].Select(c => c.ToString()),
            Gen.Char["\"\\\t\n\r\b\f\u0001\u001f\u007f"].Select(c => c.ToString()),
            Gen.Char["éüßøñçΩжא中文字€\u00a0\u2028\u2029\ufeff\ufffd"].Select(c => c.ToString()),
            Gen.OneOf("😀", "𝄞", "\U0010FFFF", "𐍈")
        )
        .Array[0, 12]
        .Select(parts => string.Concat(parts));

    /// <summary>
    /// A JSON string literal written by hand (not by the code under test's serializer): each character is written
    /// as itself or, where <paramref name="escape"/> says so, as a \u escape (a surrogate pair as two escapes);
    /// the escapes JSON requires are always applied.
    /// </summary>
    public static string JsonString(string s, ReadOnlySpan<bool> escape)
    {
        var sb = new StringBuilder("\"");
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            var pair = char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]);
            if ((i < escape.Length && escape[i]) || c < 0x20 || c is '"' or '\\')
                sb.Append(
                    c switch
                    {
                        '"' => "\\\"",
                        '\\' => "\\\\",
                        '\n' => "\\n",
                        _ => $"\\u{(int)c:x4}" + (pair ? $"\\u{(int)s[i + 1]:x4}" : ""),
                    }
                );
            else
                sb.Append(c).Append(pair ? s[i + 1].ToString() : "");
            if (pair)
                i++; // both halves of a pair are written the same way: half an escape has no UTF-8 form
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Byte sequences that are invalid UTF-8 wherever they start at a character boundary.</summary>
    public static readonly byte[][] InvalidUtf8Sequences =
    [
        [0xFF],
        [0xFE],
        [0x80],
        [0xBF], // never valid / a continuation byte with no lead
        [0xC0, 0xAF],
        [0xC1, 0x81], // overlong two-byte forms
        [0xE0, 0x80, 0x80], // overlong three-byte form
        [0xED, 0xA0, 0x80], // an encoded surrogate
        [0xF4, 0x90, 0x80, 0x80], // beyond U+10FFFF
        [0xE2, 0x82],
        [0xC3], // a sequence cut short (what follows a boundary is never a continuation byte)
        [0xF8, 0x88, 0x80, 0x80, 0x80], // five-byte forms do not exist
    ];

    public static readonly Gen<byte[]> InvalidUtf8 = Gen.OneOf(InvalidUtf8Sequences);
}

/// <summary>
/// A folder for the property cases' files, removed afterwards: in memory (/dev/shm) where the machine has it, since
/// the properties write tens of thousands of small files, and on a disk the file system rather than the parsers then
/// takes most of the time (on the development machine a run took about 4 times as long with the files on disk).
/// </summary>
internal sealed class CaseDir : IDisposable
{
    public CaseDir()
    {
        var root = OperatingSystem.IsLinux() && Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(root, "alora-prop-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            Directory.CreateDirectory(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alora-prop-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(Path);
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { } // a leftover folder must not fail a test
    }
}
