// WebRTC audio leg to the gateway: listen silently by default, talk only on demand.
"use strict";

class AudioLeg {
  constructor(alarmId, audioElement, onLevel) {
    this.alarmId = alarmId;
    this.audioElement = audioElement;
    this.onLevel = onLevel;
    this.talking = false;
  }

  async connect() {
    this.pc = new RTCPeerConnection({ iceServers: [] });
    // Raw microphone: the gateway, not the browser, shapes the audio for the phone line.
    this.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    for (const track of this.mic.getAudioTracks()) {
      track.enabled = false; // silent until the operator chooses to talk
      this.pc.addTrack(track, this.mic);
    }
    this.pc.addEventListener("track", (ev) => {
      const stream = ev.streams[0] || new MediaStream([ev.track]);
      this.audioElement.srcObject = stream;
      this.meter(stream);
    });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise((resolve) => {
      if (this.pc.iceGatheringState === "complete") { resolve(); return; }
      const check = () => { if (this.pc.iceGatheringState === "complete") resolve(); };
      this.pc.addEventListener("icegatheringstatechange", check);
      setTimeout(resolve, 2000); // loopback and LAN gather well within this
    });
    const answer = await gw.api("POST", `/api/v1/alarms/${this.alarmId}/audio/offer`,
      { type: "offer", sdp: this.pc.localDescription.sdp });
    await this.pc.setRemoteDescription(answer);
  }

  meter(stream) {
    this.context = new AudioContext();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 2048;
    this.context.createMediaStreamSource(stream).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      this.onLevel(Math.sqrt(sum / data.length));
    }, 100);
  }

  async setTalking(on) {
    await gw.api("POST", `/api/v1/alarms/${this.alarmId}/audio/mode`, { talk: on });
    this.talking = on;
    for (const track of this.mic.getAudioTracks()) track.enabled = on;
  }

  async close(tellServer = true) {
    clearInterval(this.timer);
    if (this.context) this.context.close();
    if (this.mic) this.mic.getTracks().forEach((t) => t.stop());
    if (this.pc) this.pc.close();
    this.onLevel(0);
    if (tellServer) await gw.api("DELETE", `/api/v1/alarms/${this.alarmId}/audio`);
  }
}

window.AudioLeg = AudioLeg;
