/** libjpeg-turbo 2.0's TurboJPEG decompressor compiled to WebAssembly (npm @cwasm/jpeg-turbo). */
declare const jpegTurbo: WebAssembly.Module;
export default jpegTurbo;
