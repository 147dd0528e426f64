"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.describeTarget = exports.registerScript = exports.binding = void 0;
/** The napi binding, loaded once for every module that opens a native socket. */
exports.binding = require('../binding.js');
exports.registerScript = exports.binding.registerScript;
exports.describeTarget = exports.binding.describeTarget;
