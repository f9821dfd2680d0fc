namespace MmTrace.Ingest.Recording;

/// <summary>
/// A recorder's output under a hidden temporary name beside its final one, renamed over it only when the
/// recording is complete: an interrupted or failed recording leaves any earlier trace of the same name as it was.
/// </summary>
internal sealed class TempOutput : IDisposable
{
    public string FinalPath { get; }
    public string TempPath { get; }
    private bool _committed;

    public TempOutput(string finalPath)
    {
        FinalPath = finalPath;
        string full = Path.GetFullPath(finalPath);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        TempPath = Path.Combine(dir, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}.tmp");
    }

    public bool Exists => File.Exists(TempPath);
    public long Length => Exists ? new FileInfo(TempPath).Length : 0;

    public void Commit()
    {
        File.Move(TempPath, FinalPath, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        try { File.Delete(TempPath); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
