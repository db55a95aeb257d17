# Halton Meter's fleet rollout for Windows (PowerShell 5.1 or 7), the counterpart of halton-meter-rollout.sh
# for Intune, SCCM or a remote PowerShell loop. Run it as the user the meter is for:
#
#   .\halton-meter-rollout.ps1 -Version 0.2.0 [-BaseUrl URL] [-InstallDir DIR] [-InitArgs '--apps']
#   .\halton-meter-rollout.ps1 -Rollback [-InstallDir DIR] [-InitArgs ...]
#
# Same contract as the POSIX script: installs the version, higher or lower than the one running, after checking
# SHA256SUMS, keeps the replaced binary as halton-meter.previous.exe, runs `init --non-interactive --json` and
# `status --json`, puts the previous binary back when the new one fails that self-test, and leaves a machine
# already healthy at the version untouched. Settings (environment) as there: HALTON_METER_BASE_URL,
# HALTON_METER_INSTALL_DIR, HALTON_METER_CONNECT_TIMEOUT (seconds to wait for a connection and the response,
# default 30), HALTON_METER_STALL_TIMEOUT (seconds a download may go without data, default 60).
#
# One JSON line on stdout {result, running, before, requested, exit, message}, result one of installed,
# upgraded or downgraded (the versions compared number by number: 0.10.0 is above 0.9.0), changed (either
# version not plain dotted numbers, such as 0.3.0-rc.1, or both the same number), unchanged, repaired,
# rolled-back, failed, usage; exit codes 0 ok, 1 download failed or stalled (nothing changed), 2 usage or bad
# settings, 5 checksum mismatch (nothing changed), 6 rolled back, 7 needs a person.
param(
  [string]$Version = '',
  [string]$BaseUrl = $(if ($env:HALTON_METER_BASE_URL) { $env:HALTON_METER_BASE_URL } else { 'https://github.com/haltonlabs/halton-meter/releases/download' }),
  [string]$InstallDir = $(if ($env:HALTON_METER_INSTALL_DIR) { $env:HALTON_METER_INSTALL_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\halton-meter' }),
  [string[]]$InitArgs = @(),
  [switch]$Rollback
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$Bin = Join-Path $InstallDir 'halton-meter.exe'
$Prev = Join-Path $InstallDir 'halton-meter.previous.exe'
$Name = 'halton-meter-x86_64-pc-windows-msvc.exe'
$Version = $Version.TrimStart('v')
# Without limits a stalled mirror or network hangs the fleet tool's run forever. A stall, not a total time, is
# what is limited: the ~100 MB binary may take long on a slow link that still moves.
$ConnectTimeout = if ($env:HALTON_METER_CONNECT_TIMEOUT) { $env:HALTON_METER_CONNECT_TIMEOUT } else { '30' }
$StallTimeout = if ($env:HALTON_METER_STALL_TIMEOUT) { $env:HALTON_METER_STALL_TIMEOUT } else { '60' }

function Get-BinVersion([string]$Path) {
  if (-not (Test-Path $Path)) { return '' }
  try { $line = (& $Path --version 2>$null | Select-Object -First 1) } catch { return '' }
  if ($line -match '^halton-meter (\S+)') { return $Matches[1] }
  return ''
}

$Before = Get-BinVersion $Bin

function Finish([string]$Result, [int]$Code, [string]$Message) {
  $line = [ordered]@{
    result = $Result; running = (Get-BinVersion $Bin); before = $Before; requested = $Version
    exit = $Code; message = $Message
  }
  Write-Output ($line | ConvertTo-Json -Compress)
  if ($Code -ne 0) { [Console]::Error.WriteLine("halton-meter rollout: $Message") }
  exit $Code
}

# Whether a download failed by running out of time (the limits above) rather than by a refusal or an error
# status, so the message can say which setting to raise.
function Test-TimedOut([System.Exception]$E) {
  for (; $E; $E = $E.InnerException) {
    if ($E -is [System.TimeoutException] -or $E -is [System.OperationCanceledException]) { return $true }
    if ($E -is [System.Net.WebException] -and $E.Status -eq [System.Net.WebExceptionStatus]::Timeout) { return $true }
  }
  return $false
}

# The result for a move from version $From to $To (see the header). A pre-release's or a local build's place
# among releases is not known here, so those are 'changed' rather than a guess; a missing number counts as 0.
function Get-Change([string]$From, [string]$To) {
  if ($From -notmatch '^[0-9]+(\.[0-9]+)*$' -or $To -notmatch '^[0-9]+(\.[0-9]+)*$') { return 'changed' }
  $f = $From.Split('.')
  $t = $To.Split('.')
  for ($i = 0; $i -lt [Math]::Max($f.Count, $t.Count); $i++) {
    $a = if ($i -lt $f.Count) { [double]$f[$i] } else { 0 }
    $b = if ($i -lt $t.Count) { [double]$t[$i] } else { 0 }
    if ($b -gt $a) { return 'upgraded' }
    if ($b -lt $a) { return 'downgraded' }
  }
  return 'changed'
}

function Test-Self([string]$Path) {
  [Console]::Error.WriteLine("halton-meter rollout: self-test: $Path init --non-interactive --json $InitArgs")
  & $Path init --non-interactive --json @InitArgs | ForEach-Object { [Console]::Error.WriteLine($_) }
  if ($LASTEXITCODE -ne 0) { return $false }
  & $Path status --json | ForEach-Object { [Console]::Error.WriteLine($_) }
  return ($LASTEXITCODE -eq 0)
}

function Set-Marker([string]$Source) {
  Set-Content -Encoding ASCII -Path (Join-Path $InstallDir 'halton-meter.channel') -Value ('{"channel":"fleet","source":"' + $Source + '"}')
}

if ($ConnectTimeout -notmatch '^[1-9][0-9]{0,5}$') { Finish 'usage' 2 "HALTON_METER_CONNECT_TIMEOUT='$ConnectTimeout' is not a whole number of seconds from 1 to 999999, such as 60" }
if ($StallTimeout -notmatch '^[1-9][0-9]{0,5}$') { Finish 'usage' 2 "HALTON_METER_STALL_TIMEOUT='$StallTimeout' is not a whole number of seconds from 1 to 999999, such as 60" }
# -TimeoutSec limits connecting and waiting for the response's headers. A body that stops coming is limited per
# read by -OperationTimeoutSeconds from PowerShell 7.4, and by .NET's ReadWriteTimeout (five minutes) in Windows
# PowerShell 5.1, which lacks that parameter; PowerShell 7.0 to 7.3 have neither.
$Limits = @{ TimeoutSec = [int]$ConnectTimeout }
if ((Get-Command Invoke-WebRequest).Parameters.ContainsKey('OperationTimeoutSeconds')) { $Limits.OperationTimeoutSeconds = [int]$StallTimeout }

if ($Rollback) {
  if ($Version) { Finish 'usage' 2 '-Rollback and -Version exclude each other' }
  if (-not (Test-Path $Prev)) { Finish 'failed' 7 "no previous binary at $Prev to roll back to" }
  $Version = Get-BinVersion $Prev
  # A running binary cannot be overwritten but can be renamed: swap by renaming.
  $rolling = Join-Path $InstallDir 'halton-meter.rolling.exe'
  Move-Item -Force $Prev $rolling
  if (Test-Path $Bin) { Move-Item -Force $Bin $Prev }
  Move-Item -Force $rolling $Bin
  if (-not (Test-Self $Bin)) { Finish 'failed' 7 "rolled back to $Version, but its self-test fails" }
  Finish 'rolled-back' 0 "rolled back from $Before to $Version"
}

if ($Version -notmatch '^\d+\.\d+\.\d+') { Finish 'usage' 2 '-Version X.Y.Z is required' }

if ($Before -eq $Version) {
  & $Bin status --json *> $null
  if ($LASTEXITCODE -eq 0) { Finish 'unchanged' 0 "already healthy at $Version" }
  if (-not (Test-Self $Bin)) { Finish 'failed' 7 "$Version is installed but its self-test fails" }
  Finish 'repaired' 0 "$Version was installed but unhealthy; init repaired it"
}

$ReleaseUrl = "$BaseUrl/v$Version"
$Work = Join-Path ([System.IO.Path]::GetTempPath()) ("halton-meter-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Work | Out-Null
try {
  try {
    Invoke-WebRequest -UseBasicParsing @Limits -Uri "$ReleaseUrl/SHA256SUMS" -OutFile (Join-Path $Work 'SHA256SUMS')
    Invoke-WebRequest -UseBasicParsing @Limits -Uri "$ReleaseUrl/$Name" -OutFile (Join-Path $Work $Name)
  } catch {
    if (Test-TimedOut $_.Exception) {
      Finish 'failed' 1 "timed out downloading from ${ReleaseUrl} (no response in ${ConnectTimeout}s, or no data for ${StallTimeout}s); nothing changed: check the network and the mirror, then run again; HALTON_METER_CONNECT_TIMEOUT and HALTON_METER_STALL_TIMEOUT raise the limits"
    }
    Finish 'failed' 1 "could not download from ${ReleaseUrl}: $($_.Exception.Message); nothing changed"
  }
  $Expected = ''
  foreach ($Line in Get-Content (Join-Path $Work 'SHA256SUMS')) {
    $Parts = $Line -split '\s+', 2
    if ($Parts.Count -eq 2 -and $Parts[1].TrimStart('*') -eq $Name) { $Expected = $Parts[0].ToLowerInvariant() }
  }
  $Actual = (Get-FileHash -Algorithm SHA256 -Path (Join-Path $Work $Name)).Hash.ToLowerInvariant()
  if (-not $Expected -or $Expected -ne $Actual) {
    Finish 'failed' 5 "checksum mismatch for $Name $Version (expected $Expected, got $Actual); nothing changed"
  }
  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  if (Test-Path $Bin) { Move-Item -Force $Bin $Prev }
  Copy-Item (Join-Path $Work $Name) $Bin
  Set-Marker $ReleaseUrl
} finally {
  Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

if ((Get-BinVersion $Bin) -eq $Version -and (Test-Self $Bin)) {
  if ($Before) {
    $How = Get-Change $Before $Version
    Finish $How 0 "$How from $Before to $Version"
  }
  Finish 'installed' 0 "installed $Version"
}
if (-not $Before -or -not (Test-Path $Prev)) {
  Finish 'failed' 7 "$Version failed its self-test and there is no previous binary to roll back to"
}
[Console]::Error.WriteLine("halton-meter rollout: $Version failed its self-test: rolling back to $Before")
Move-Item -Force $Bin (Join-Path $InstallDir 'halton-meter.failed.exe')
Move-Item -Force $Prev $Bin
Set-Marker "$BaseUrl/v$Before"
if (-not (Test-Self $Bin)) { Finish 'failed' 7 "$Version failed its self-test, and so does $Before after the rollback" }
Finish 'rolled-back' 6 "$Version failed its self-test; $Before was put back and passes"
