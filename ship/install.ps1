# Halton Meter's install script for Windows (PowerShell 5.1 or 7):
#
#   irm <release>/install.ps1 -OutFile install.ps1; .\install.ps1 [init flags]
#
# (run as a file, so that its exit code lands in $LASTEXITCODE instead of closing the console) downloads the binary from a release, checks it against the release's SHA256SUMS, puts it in a folder on the
# user's PATH, writes the channel marker beside it, and runs `halton-meter init` with the flags given.
#
# Settings (environment): HALTON_METER_VERSION (default: the latest), HALTON_METER_BASE_URL (default: the
# project's GitHub releases; files are fetched from <base>/v<version>/ or <base>/latest/, GitHub's own latest
# from releases/latest/download/),
# HALTON_METER_INSTALL_DIR (default: %LOCALAPPDATA%\Programs\halton-meter), HALTON_METER_NO_MODIFY_PATH=1,
# HALTON_METER_NO_INIT=1, HALTON_METER_CONNECT_TIMEOUT (seconds to wait for a connection and the response,
# default 30), HALTON_METER_STALL_TIMEOUT (seconds a download may go without data before it is given up,
# default 60).
#
# Exit codes: 0 installed (and init succeeded), 1 download (including one given up as stalled) or install
# failed, 2 unsupported machine or bad settings, 5 checksum mismatch; otherwise init's own exit code.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

function Fail([int]$Code, [string]$Message) {
  [Console]::Error.WriteLine("halton-meter install: $Message")
  exit $Code
}
function Say([string]$Message) { [Console]::Error.WriteLine("halton-meter install: $Message") }

$GitHubReleases = 'https://github.com/haltonlabs/halton-meter/releases'
$BaseUrl = if ($env:HALTON_METER_BASE_URL) { $env:HALTON_METER_BASE_URL } else { "$GitHubReleases/download" }
$Version = if ($env:HALTON_METER_VERSION) { $env:HALTON_METER_VERSION } else { 'latest' }
$InstallDir = if ($env:HALTON_METER_INSTALL_DIR) { $env:HALTON_METER_INSTALL_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\halton-meter' }
# Without limits a stalled mirror or network hangs an unattended install forever. A stall, not a total time, is
# what is limited: the ~100 MB binary may take long on a slow link that still moves.
$ConnectTimeout = if ($env:HALTON_METER_CONNECT_TIMEOUT) { $env:HALTON_METER_CONNECT_TIMEOUT } else { '30' }
$StallTimeout = if ($env:HALTON_METER_STALL_TIMEOUT) { $env:HALTON_METER_STALL_TIMEOUT } else { '60' }

# GitHub itself serves the latest release at releases/latest/download/; a mirror, at <base>/latest/.
if ($Version -eq 'latest') { $ReleaseUrl = if ($env:HALTON_METER_BASE_URL) { "$BaseUrl/latest" } else { "$GitHubReleases/latest/download" } }
elseif ($Version -match '^v\d') { $ReleaseUrl = "$BaseUrl/$Version" }
elseif ($Version -match '^\d') { $ReleaseUrl = "$BaseUrl/v$Version" }
else { Fail 2 "HALTON_METER_VERSION='$Version' is not a version such as 0.2.0" }
if ($ConnectTimeout -notmatch '^[1-9][0-9]{0,5}$') { Fail 2 "HALTON_METER_CONNECT_TIMEOUT='$ConnectTimeout' is not a whole number of seconds from 1 to 999999, such as 60" }
if ($StallTimeout -notmatch '^[1-9][0-9]{0,5}$') { Fail 2 "HALTON_METER_STALL_TIMEOUT='$StallTimeout' is not a whole number of seconds from 1 to 999999, such as 60" }
# -TimeoutSec limits connecting and waiting for the response's headers. A body that stops coming is limited per
# read by -OperationTimeoutSeconds from PowerShell 7.4, and by .NET's ReadWriteTimeout (five minutes) in Windows
# PowerShell 5.1, which lacks that parameter; PowerShell 7.0 to 7.3 have neither.
$Limits = @{ TimeoutSec = [int]$ConnectTimeout }
if ((Get-Command Invoke-WebRequest).Parameters.ContainsKey('OperationTimeoutSeconds')) { $Limits.OperationTimeoutSeconds = [int]$StallTimeout }

# Whether a download failed by running out of time (the limits above) rather than by a refusal or an error
# status, so the message can say which setting to raise.
function Test-TimedOut([System.Exception]$E) {
  for (; $E; $E = $E.InnerException) {
    if ($E -is [System.TimeoutException] -or $E -is [System.OperationCanceledException]) { return $true }
    if ($E -is [System.Net.WebException] -and $E.Status -eq [System.Net.WebExceptionStatus]::Timeout) { return $true }
  }
  return $false
}

$Arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString()
if ($Arch -ne 'X64') { Fail 2 "unsupported processor '$Arch' (x64 is built for Windows)" }
$Name = 'halton-meter-x86_64-pc-windows-msvc.exe'

$Work = Join-Path ([System.IO.Path]::GetTempPath()) ("halton-meter-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Work | Out-Null
try {
  Say "downloading $Name from $ReleaseUrl"
  try {
    Invoke-WebRequest -UseBasicParsing @Limits -Uri "$ReleaseUrl/SHA256SUMS" -OutFile (Join-Path $Work 'SHA256SUMS')
    Invoke-WebRequest -UseBasicParsing @Limits -Uri "$ReleaseUrl/$Name" -OutFile (Join-Path $Work $Name)
  } catch {
    if (Test-TimedOut $_.Exception) {
      Fail 1 "timed out downloading from ${ReleaseUrl} (no response in ${ConnectTimeout}s, or no data for ${StallTimeout}s): check the network and the mirror, then run again; HALTON_METER_CONNECT_TIMEOUT and HALTON_METER_STALL_TIMEOUT raise the limits"
    }
    Fail 1 "could not download from ${ReleaseUrl}: $($_.Exception.Message)"
  }

  $Expected = $null
  foreach ($Line in Get-Content (Join-Path $Work 'SHA256SUMS')) {
    $Parts = $Line -split '\s+', 2
    if ($Parts.Count -eq 2 -and $Parts[1].TrimStart('*') -eq $Name) { $Expected = $Parts[0].ToLowerInvariant() }
  }
  if (-not $Expected) { Fail 5 "SHA256SUMS of $ReleaseUrl does not list $Name" }
  $Actual = (Get-FileHash -Algorithm SHA256 -Path (Join-Path $Work $Name)).Hash.ToLowerInvariant()
  if ($Actual -ne $Expected) { Fail 5 "checksum mismatch for ${Name}: expected $Expected, got $Actual; nothing was installed" }
  Say "checksum ok ($Actual)"

  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  $Target = Join-Path $InstallDir 'halton-meter.exe'
  # A running halton-meter.exe cannot be overwritten but can be renamed: move it aside first.
  if (Test-Path $Target) { Move-Item -Force $Target (Join-Path $InstallDir 'halton-meter.old.exe') }
  Copy-Item (Join-Path $Work $Name) $Target
  Set-Content -Encoding ASCII -Path (Join-Path $InstallDir 'halton-meter.channel') -Value ('{"channel":"install-script","source":"' + $ReleaseUrl + '"}')
  Say "installed $Target"
} finally {
  Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

$UserPath = [Environment]::GetEnvironmentVariable('Path', 'User')
if (-not $UserPath) { $UserPath = '' }
if (($UserPath -split ';') -notcontains $InstallDir) {
  if ($env:HALTON_METER_NO_MODIFY_PATH -eq '1') {
    Say "$InstallDir is not on your PATH: add it to use 'halton-meter' by name"
  } else {
    [Environment]::SetEnvironmentVariable('Path', (($UserPath.TrimEnd(';') + ";$InstallDir").TrimStart(';')), 'User')
    Say "added $InstallDir to your user PATH (new terminals)"
  }
}
$env:Path = "$InstallDir;$env:Path"

if ($env:HALTON_METER_NO_INIT -eq '1') {
  Say "not running init (HALTON_METER_NO_INIT=1): run 'halton-meter init' to finish"
  exit 0
}
Say "running: halton-meter init $args"
& $Target init @args
exit $LASTEXITCODE
