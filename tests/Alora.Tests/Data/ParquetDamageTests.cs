using System.Diagnostics;
using Alora.Data;
using Parquet.Serialization;

namespace Alora.Tests.Data;

/// <summary>Damaged Parquet files are input errors naming the file, whatever Parquet.Net throws or how long it would loop.</summary>
public class ParquetDamageTests
{
    static string Message(Action read) => Assert.Throws<AloraException>(read).Message;

    static async Task<byte[]> OneRow()
    {
        using var stream = new MemoryStream();
        await ParquetSerializer.SerializeAsync(
            new[]
            {
                new TextRow { text = "a", meta = "m" },
            },
            stream
        );
        return stream.ToArray();
    }

    [Fact]
    public async Task DecoderExceptionsBecomeInputErrors()
    {
        using var dir = new ScratchDir();
        var bytes = await OneRow();
        // Flip one bit of the footer's first byte (the footer's length sits before the final "PAR1"): before,
        // Parquet.Net's ThriftProtocolException escaped the reader.
        var footerStart = bytes.Length - 8 - BitConverter.ToInt32(bytes, bytes.Length - 8);
        bytes[footerStart] ^= 1 << 4;
        var path = dir.Path("damaged.parquet");
        await File.WriteAllBytesAsync(path, bytes);
        Assert.StartsWith($"{path}: not a readable Parquet file", Message(() => TextCorpus.Read(path)), StringComparison.Ordinal);
        Assert.StartsWith($"{path}: not a readable Parquet file", Message(() => McqDatasets.Read("mcq", path)), StringComparison.Ordinal);

        var cut = dir.Path("cut.parquet");
        await File.WriteAllBytesAsync(cut, bytes[..^3]);
        Assert.Equal(
            $"{cut}: not a readable Parquet file (it does not end with the magic number PAR1 (truncated, or not Parquet))",
            Message(() => TextCorpus.Read(cut))
        );
    }

    /// <summary>
    /// A one-row file Parquet.Net wrote, with bits of its footer flipped (found by fuzzing the footer as in the Parquet property):
    /// Parquet.Net 6.1 loops on it for many minutes. The reader must give up within its time limit. The CLI runs
    /// in a process of its own, since the looping thread cannot be stopped and would keep a core busy here.
    /// </summary>
    [Fact]
    public async Task AFooterParquetNetLoopsOnFailsWithinTheLimit()
    {
        using var dir = new ScratchDir();
        var path = dir.Path("loops.parquet");
        await File.WriteAllBytesAsync(
            path,
            Convert.FromBase64String(
                "UEFSMRUAFRgVHCwVAhUAFQYVBhwYAjYzGAI2MxYAKAI2MxgCNjMAAAAMLAIAAAACAQIAAAA2MxUAFRYVGjwVAhUAFQYVBhwYAW0YAW0WACgBbRgBbQAAAAsoAgAAAAIBAQAAAG0VAhk8SARyb290FQQAFQwlAhgEdGV4dCUATBwAAAAVDCUCGARtZXRhJQBMHAAAABYCGRwZLCYInBUMGSUABhkYBHRleHQVAhYCFmIWZiYIPBgKNjMYAjYzFgAoAjYzGAI2MwAAACZuHBUMGSUABhkYBG1ldGEVAhYCFlgWXCZuPBgBbRgBbRYAKAFtGAFtAAAAFroBFgI2wgEAKEpQYXJxdWV0Lk5ldCB2ZXJzaW9uIDYuMS4wIChidWlsZCBjMTc5ZDk3YmQyNTQ5YjVmNDRhOTI0MWU3MjlmODY5ZDQ5NDdlZTU5KQDnAAAAUEFSMQ=="
            )
        );
        await CliFailsWithin60Seconds(
            path,
            ["eval", "perplexity", "--model", dir.Path("no-model"), "--data", path],
            $"{path}: not a readable Parquet file (reading its footer took over 5 s: the file is damaged)"
        );
    }

    /// <summary>
    /// A file with pages Parquet.Net wrote and bits flipped in them (found by the Parquet property): its untyped row
    /// reader, which multiple-choice and prompt/completion data go through, runs past any limit on it. Refused
    /// within the read's time limit, in a CLI process of its own for the same reason as above.
    /// </summary>
    [Fact]
    public async Task PagesParquetNetRunsOnAreRefusedWithinTheLimit()
    {
        using var dir = new ScratchDir();
        var path = dir.Path("pages.parquet");
        await File.WriteAllBytesAsync(
            path,
            Convert.FromBase64String(
                "UEFSMRUAFRgVHCwVAhUAFQYVBhwYAjYMGAI2DBYAKAI2DBgCNgwAAAAMLAIAAAACAQIAAAA2DBUAFRYVGiwVAhUAFQYVBhwYAWwYAW0WAChBbRgBbQAAAAsoAgAAAAIBAQAAAG0VAhk8SARyb290FQQAFQwlAhgEdGV4dCUATBwAAAAVDCUCGARtZXRhJQBMHAAAABYCGRwZLCYIHBUMGSUABhkYBHRleHQVAhYCFmIWZiYIPBgCNgwYAjYMFgAoAjYMGAI2DAAAACZuHBUMGSUABhkYBG1ldGEVAhYCFlgWXCZuPBgBbRgBbRYAKAFtGAFtAAAAFroBFgI2wgEAKEpQYXJxdWV0Lk5ldCB2ZXJzaW9uIDYuMS4wIChidWlsZCBjMTc5ZDk3YmQyNTQ5YjVmNDRhOTI0MWU3MjlmODY5ZDQ5NDdlZTU5KQDnAAAAUEFSMQ=="
            )
        );
        await CliFailsWithin60Seconds(
            path,
            ["eval", "mcq", "--task", "mcq", "--model", dir.Path("no-model"), "--data", path],
            $"{path}: not a readable Parquet file (reading its rows took over 5 s: the file is damaged)"
        );
    }

    static async Task CliFailsWithin60Seconds(string path, string[] args, string error)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in args.Prepend(Path.Combine(AppContext.BaseDirectory, "Alora.Cli.dll")))
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stopwatch = Stopwatch.StartNew();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the CLI was still reading {path} after 90 s");
        }
        Assert.Equal(1, process.ExitCode);
        Assert.Contains(error, await stderr, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(60), $"took {stopwatch.Elapsed}");
    }
}
