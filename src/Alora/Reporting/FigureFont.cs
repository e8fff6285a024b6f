using System.Reflection;
using ScottPlot;
using SkiaSharp;

namespace Alora.Reporting;

/// <summary>
/// Makes figure text independent of the machine's fonts. The Skia build used on Linux
/// (SkiaSharp.NativeAssets.Linux.NoDependencies) has no fontconfig; on a bare container it can find no font
/// at all and draws text as nothing, and where fonts exist ScottPlot picks whichever family comes first
/// (DejaVu Serif on a Debian image). So the assembly embeds DejaVu Sans (regular and bold; Bitstream Vera
/// licence, see Fonts/LICENSE-DejaVu.txt), which also covers the Greek letters and symbols used in labels
/// (φ, Ω, ±, ‖). It is registered with ScottPlot under a private family name, so no other ScottPlot user
/// in the process is affected.
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
        foreach (IAxis axis in plot.Axes.GetAxes()) SetAxis(axis);
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
        var regular = Load("DejaVuSans.ttf");
        var bold = Load("DejaVuSans-Bold.ttf");
        lock (Fonts.FontResolvers)
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver(regular, bold));
        return true;
    }

    private static SKTypeface Load(string file)
    {
        string resource = "Alora.Reporting.Fonts." + file;
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded font {resource} is missing from the assembly");
        // SKTypeface.FromStream needs a seekable stream it can keep; copy to memory and hand it over.
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        return SKTypeface.FromStream(copy)
            ?? throw new InvalidOperationException($"embedded font {resource} could not be read by Skia");
    }

    /// <summary>Answers only for <see cref="Name"/>; other names fall through to ScottPlot's own resolvers.</summary>
    private sealed class EmbeddedResolver(SKTypeface regular, SKTypeface bold) : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, bool bold1, bool italic) =>
            fontName == Name ? (bold1 ? bold : regular) : null;

        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            CreateTypeface(fontName, weight >= FontWeight.SemiBold, slant != FontSlant.Upright);
    }
}
