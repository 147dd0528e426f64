'use strict';
// Seed: infrastructure/redis/messageBroker.ts.
const { logger } = require('./logger');

class MessageBroker {
  constructor(connection) {
    this.subscriber = connection.getSubscriber();
    this.publisher = connection.getPublisher();
    this.subscriptions = new Map();
  }

  async subscribe(channel, callback) {
    if (!this.subscriptions.has(channel)) {
      this.subscriptions.set(channel, new Set());
      // node-redis v4+/v5 call listeners as (message, channel); the seed binds handleMessage(channel, message).
      await this.subscriber.subscribe(channel, (message, ch) => this.handleMessage(ch, message));
    }
    this.subscriptions.get(channel).add(callback);
    logger.info('Subscribed to channel', { channel });
  }

  async publish(channel, message) {
    const fullMessage = {
      ...message,
      timestamp: new Date(),
      messageId: this.generateMessageId(),
    };
    await this.publisher.publish(channel, JSON.stringify(fullMessage));
    logger.debug('Message published', { channel, messageId: fullMessage.messageId });
  }

  async handleMessage(channel, message) {
    try {
      const parsedMessage = JSON.parse(message);
      const callbacks = this.subscriptions.get(channel);
      if (callbacks) {
        callbacks.forEach((callback) => {
          try {
            callback(parsedMessage);
          } catch (error) {
            logger.error('Message handler error:', { channel, error });
          }
        });
      }
    } catch (error) {
      logger.error('Message parsing error:', { channel, error });
    }
  }

  generateMessageId() {
    return `${Date.now()}-${Math.random().toString(36).substr(2, 9)}`;
  }
}

module.exports = { MessageBroker };
