using ScottPlot;
using SkiaSharp;

namespace Alora.Reporting;

/// <summary>
/// Picks the figure font explicitly. The Skia build used on Linux (SkiaSharp.NativeAssets.Linux.NoDependencies)
/// has no fontconfig: it may find no font and draw text as nothing, and where fonts exist ScottPlot picks
/// whichever family comes first (DejaVu Serif on a Debian image). So a sans-serif TrueType file that covers the
/// Greek letters and symbols used in labels (φ, Ω, ±, ‖) is loaded from the machine's font folders (DejaVu Sans,
/// Debian's fonts-dejavu-core, first; ALORA_FONT names another file) and registered with ScottPlot under a
/// private family name, so no other ScottPlot user in the process is affected.
/// </summary>
internal static class FigureFont
{
    /// <summary>Family name under which the embedded font is known to ScottPlot.</summary>
    public const string Name = "Alora DejaVu Sans";

    private static readonly Lazy<bool> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Registers the font once, then sets it on every text element of the plot: title, all axes (labels and
    /// tick labels), colour-bar panels, bar value labels and the legend. Call it after everything is added. ScottPlot's own
    /// plot.Font.Set is avoided because it also changes the process-wide Fonts.Default.
    /// </summary>
    public static void Apply(Plot plot)
    {
        _ = Registered.Value;
        plot.Axes.Title.Label.FontName = Name;
        foreach (IAxis axis in plot.Axes.GetAxes())
            SetAxis(axis);
        foreach (var panel in plot.Axes.GetPanels())
        {
            if (panel is ScottPlot.Panels.ColorBar bar)
            {
                bar.LabelStyle.FontName = Name;
                SetAxis(bar.Axis);
            }
        }
        // Value labels above bars default to the process-wide font, not the axes'.
        foreach (var bars in plot.GetPlottables<ScottPlot.Plottables.BarPlot>())
            bars.ValueLabelStyle.FontName = Name;
        plot.Legend.FontName = Name;
        // Otherwise the legend may re-detect a "best" system font for its text on each render.
        plot.Legend.SetBestFontOnEachRender = false;
    }

    private static void SetAxis(IAxis axis)
    {
        axis.Label.FontName = Name;
        axis.TickLabelStyle.FontName = Name;
    }

    private static bool Register()
    {
        var regular = Load(
            Find(
                Environment.GetEnvironmentVariable("ALORA_FONT"),
                "DejaVuSans.ttf",
                "LiberationSans-Regular.ttf",
                "NotoSans-Regular.ttf",
                "FreeSans.ttf",
                "Arial.ttf"
            )
        );
        var bold = Load(
            Find(null, "DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "NotoSans-Bold.ttf", "FreeSansBold.ttf", "Arial Bold.ttf") ?? regular.Path
        );
        lock (Fonts.FontResolvers)
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver(regular.Face, bold.Face));
        return true;
    }

    static readonly string[] FontFolders =
    [
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fonts"),
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local/share/fonts"),
        "/Library/Fonts",
        "/System/Library/Fonts/Supplemental",
        "C:/Windows/Fonts",
    ];

    /// <summary>The first existing file among an explicit path and the given file names under the font folders.</summary>
    private static string? Find(string? explicitPath, params string[] names)
    {
        if (!string.IsNullOrEmpty(explicitPath))
            return File.Exists(explicitPath) ? explicitPath : throw new AloraException($"ALORA_FONT={explicitPath}: file not found");
        foreach (var name in names)
        foreach (var dir in FontFolders.Where(Directory.Exists))
        {
            var hit = Directory.EnumerateFiles(dir, name, SearchOption.AllDirectories).FirstOrDefault();
            if (hit is not null)
                return hit;
        }
        return null;
    }

    private static (SKTypeface Face, string Path) Load(string? file)
    {
        if (file is null)
            throw new AloraException(
                "no TrueType font for figures was found (looked for DejaVu Sans, Liberation Sans, Noto Sans, FreeSans under "
                    + string.Join(", ", FontFolders)
                    + "): install one (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set ALORA_FONT to a .ttf file"
            );
        return (SKTypeface.FromFile(file) ?? throw new AloraException($"{file}: Skia could not read this font"), file);
    }

    /// <summary>Answers only for <see cref="Name"/>; other names fall through to ScottPlot's own resolvers.</summary>
    private sealed class EmbeddedResolver(SKTypeface regular, SKTypeface bold) : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, bool bold1, bool italic) => fontName == Name ? (bold1 ? bold : regular) : null;

        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            CreateTypeface(fontName, weight >= FontWeight.SemiBold, slant != FontSlant.Upright);
    }
}
